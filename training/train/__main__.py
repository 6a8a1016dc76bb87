"""Fine-tune a causal language model: full weights, LoRA or QLoRA, on one process or under torchrun.

    python -m training.train --config train.yaml --learning-rate 1e-4
    torchrun --nproc_per_node 8 -m training.train --config train.yaml
    python -m training.train.launch --config train.yaml    # in a SageMaker job: torchrun on every host

Paths default to the SageMaker ones (SM_CHANNEL_TRAIN, SM_CHANNEL_VALIDATION, SM_CHANNEL_MODEL,
SM_MODEL_DIR, /opt/ml/checkpoints); hyperparameters arrive as ``--key value`` and are read like flags.
Exit codes: 0 done, 2 bad arguments or data, 143 stopped by SIGTERM after a checkpoint (rerun to resume).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from training.train.args import ArgumentError, parse_config
from training.train.data import DataError
from training.train.environment import read_environment
from training.train.loop import SIGTERM_EXIT_CODE


def main(argv: Sequence[str] | None = None) -> int:
    from training.train.job import run_training

    try:
        config = parse_config(sys.argv[1:] if argv is None else argv)
        result = run_training(config, read_environment())
    except (ArgumentError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if result.stopped:
        if read_environment().is_main:
            print(f"stopped by SIGTERM at step {result.step} of {result.total_steps}; rerun to resume")
        return SIGTERM_EXIT_CODE
    return 0


if __name__ == "__main__":
    sys.exit(main())
