"""Name rules the CDK config enforces (lib/config/environment-config.ts), for the commands and handlers that
take those names as input: one definition here, and test_names.py fails when the config's rules change."""

from __future__ import annotations

import re

# `name`: 2-10 lower-case letters and digits, starting with a letter.
ENVIRONMENT_NAME = re.compile(r"[a-z][a-z0-9]{1,9}")
# `storage.bucketNamePrefix`: lower-case letters, digits and single hyphens.
BUCKET_NAME_PREFIX = re.compile(r"[a-z0-9](-?[a-z0-9])*")
