"""Reads the staged promotion's serving manifest: what production serves since the last promotion.

``training.registry.promotion`` writes it as ``serving/manifests/current.json`` of the model artifacts bucket
(``{"status": "serving" | "rolling-out" | "rolling-back" | "failed", "variants": [{"variant", "parameter",
"weight", "modelPackageArn"}], "previous": {...}, ...}``). Two functions read it: the pipeline's champion
finder (``training.registry.champion``) and the capture monitor's planner (``training.monitor.plan``); each
decides for itself what a status other than ``serving`` means to it.

Reading needs ``s3:ListBucket`` for the key as prefix and ``s3:GetObject`` on the key (and the bucket key's
``kms:Decrypt``). The key is listed first: with a ListBucket limited by ``s3:prefix``, S3 answers a GetObject
of a missing key with 403 AccessDenied, not 404, so only the listing tells a missing manifest from a denied
one. Any S3 error other than a missing key is raised.

Standard library only; the caller passes its boto3 S3 client.
"""

from __future__ import annotations

import json
from typing import Any

SERVING = "serving"
NOT_FOUND_CODES = ("NoSuchKey", "404", "NotFound")


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for any other exception)."""
    response = getattr(error, "response", None)
    return str(((response or {}).get("Error") or {}).get("Code", "")) if isinstance(response, dict) else ""


def read_manifest(s3: Any, bucket: str, key: str) -> tuple[dict[str, Any] | None, str]:
    """The serving manifest at ``s3://bucket/key``: ``(manifest, "")``; ``(None, "")`` when there is no such
    object; ``(None, why)`` when the object is not a JSON object, ``why`` reading on from
    ``serving manifest s3://bucket/key`` (``"is not JSON"``, ``"is not a JSON object"``)."""
    page = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    if not any(o["Key"] == key for o in page.get("Contents", [])):
        return None, ""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as error:
        # Deleted between the listing and the read: missing, as if it had never been listed.
        if error_code(error) in NOT_FOUND_CODES:
            return None, ""
        raise
    try:
        manifest = json.loads(body)
    except ValueError:  # not UTF-8 or not JSON
        return None, "is not JSON"
    if not isinstance(manifest, dict):
        return None, "is not a JSON object"
    return manifest, ""
