"""``python -m training.dr {export,restore}``: the registry exports, and the restore into the DR region.

    python -m training.dr export [--version N]       # settings: FMFT_REGISTRY_EXPORT_SETTINGS
    python -m training.dr restore --environment prod --to us-west-2 [--serving F --out F] [--dry-run]

See training/dr/registry_export.py and training/dr/restore.py; JSON on stdout; exit status 0 done, 1 refused
or an AWS error, 2 a bad option.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

from training.common.args import run_subcommands
from training.dr.registry_export import ExportArgs, ExportError, export_command
from training.dr.restore import Clients, RestoreArgs, RestoreError, restore

PROG = "python -m training.dr"
# The subcommands and their arguments (the documents' commands are parsed with these: test_docs_commands.py).
COMMANDS: dict[str, type] = {"export": ExportArgs, "restore": RestoreArgs}


def main(argv: list[str] | None = None, clients: dict[str, Any] | None = None) -> int:
    def runner(name: str) -> Any:
        def run(args: Any) -> int:
            from botocore.exceptions import BotoCoreError, ClientError

            now = dt.datetime.now(dt.UTC)
            given = clients or {}
            try:
                if name == "export":
                    import boto3

                    s3 = given.get("s3") or boto3.client("s3")
                    sagemaker = given.get("sagemaker") or boto3.client("sagemaker")
                    result = export_command(args, s3, sagemaker, now)
                else:
                    result = restore(args, Clients(args.to, **given), now)
            except (ExportError, RestoreError) as error:
                print(f"{PROG} {name}: refused: {error}", file=sys.stderr)
                return 1
            except (ClientError, BotoCoreError) as error:
                print(f"{PROG} {name}: AWS error: {type(error).__name__}: {error}", file=sys.stderr)
                return 1
            print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
            return 0

        return run

    commands = {name: (args_type, runner(name)) for name, args_type in COMMANDS.items()}
    doc = "Disaster recovery: keep the registry as replicated data (export), restore it in the DR region"
    return run_subcommands(PROG, doc, commands, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
