"""Small S3 helpers the handlers and commands share (standard library only; the caller passes its client)."""

from __future__ import annotations

from typing import Any


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    """Every key under ``prefix`` (ListObjectsV2, every page), sorted."""
    keys, token = [], None
    while True:
        page = s3.list_objects_v2(
            Bucket=bucket, Prefix=prefix, **({"ContinuationToken": token} if token else {})
        )
        keys += [o["Key"] for o in page.get("Contents", [])]
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return sorted(keys)
