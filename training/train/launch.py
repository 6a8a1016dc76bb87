"""Start ``torchrun`` on a SageMaker training host: one process per GPU, every host of the job in one group.

    python -m training.train.launch --config /opt/ml/input/data/config/train.yaml

Host list, this host's rank and the GPU count come from SM_HOSTS, SM_CURRENT_HOST and SM_NUM_GPUS; every
argument is passed on to ``python -m training.train``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# SageMaker runs this file as a script (sagemaker_program), so Python puts only this file's directory on the
# path. The archive root, which holds the `training` package, goes first, for this process and for the
# `python -m training.train` workers torchrun starts.
_ARCHIVE_ROOT = str(Path(__file__).resolve().parents[2])
if _ARCHIVE_ROOT not in sys.path:
    sys.path.insert(0, _ARCHIVE_ROOT)

from training.train.environment import read_environment, torchrun_command  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):  # answer here: torchrun would start workers to print it
        print(f"usage: python -m training.train.launch [training arguments]\n\n{__doc__.strip()}")
        print("\nTraining arguments: see python -m training.train --help")
        return
    command = torchrun_command(read_environment(), argv)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_ARCHIVE_ROOT, os.environ.get("PYTHONPATH")]))
    print(" ".join(command), flush=True)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
