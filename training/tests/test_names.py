"""The Python copies of the config's name rules are the config's own (lib/config/environment-config.ts)."""

from __future__ import annotations

from pathlib import Path

from training.common.names import BUCKET_NAME_PREFIX, ENVIRONMENT_NAME

CONFIG = (Path(__file__).resolve().parents[2] / "lib" / "config" / "environment-config.ts").read_text(
    encoding="utf-8"
)


def test_the_rules_are_the_configs() -> None:
    assert f"name: matching(/^{ENVIRONMENT_NAME.pattern}$/" in CONFIG
    assert f"bucketNamePrefix: matching(/^{BUCKET_NAME_PREFIX.pattern}$/" in CONFIG


def test_they_accept_and_refuse_as_the_config_does() -> None:
    assert ENVIRONMENT_NAME.fullmatch("prod") and not ENVIRONMENT_NAME.fullmatch("p")
    assert not ENVIRONMENT_NAME.fullmatch("my-env") and not ENVIRONMENT_NAME.fullmatch("Prod")
    assert BUCKET_NAME_PREFIX.fullmatch("fmft") and BUCKET_NAME_PREFIX.fullmatch("my-team")
    assert not BUCKET_NAME_PREFIX.fullmatch("a--b") and not BUCKET_NAME_PREFIX.fullmatch("-a")
