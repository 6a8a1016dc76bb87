"""Where a SageMaker Processing job mounts its data, with local fallbacks.

SageMaker Processing copies each ``ProcessingInput`` under ``/opt/ml/processing/input/<name>`` and uploads
whatever the job writes under ``/opt/ml/processing/output/<name>``. The same scripts run on a workstation,
where every path comes from a flag.
"""

from __future__ import annotations

import os
from pathlib import Path

from training.common.args import UsageError

PROCESSING_ROOT = Path(os.environ.get("SM_PROCESSING_ROOT", "/opt/ml/processing"))
# SageMaker writes this file into every processing container: its presence says where a script runs.
PROCESSING_CONFIG = Path("/opt/ml/config/processingjobconfig.json")


def in_processing_job() -> bool:
    """True inside a SageMaker Processing container."""
    return PROCESSING_CONFIG.is_file() or "SM_PROCESSING_ROOT" in os.environ


def processing_input(channel: str = "data") -> Path:
    return PROCESSING_ROOT / "input" / channel


def processing_output(channel: str) -> Path:
    return PROCESSING_ROOT / "output" / channel


def resolve_path(value: str | None, default: Path, flag: str) -> Path:
    """Return the flag's path, else the processing-job default; outside a job a missing flag is an error."""
    if value:
        return Path(value)
    if in_processing_job():
        return default
    raise UsageError(f"{flag} is required when not running in a SageMaker Processing job")
