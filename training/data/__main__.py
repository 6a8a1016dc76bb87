"""Data preparation CLI: validate, format, split and profile fine-tuning data; prepare does it all at once.

    python -m training.data validate --input train.jsonl --target bedrock --model-family amazon-nova
    python -m training.data format --input raw.csv --output train.jsonl --target bedrock \
        --model-family amazon-titan-text
    python -m training.data split --input data.jsonl --output-dir splits --ratios 0.8 0.1 0.1 --seed 7
    python -m training.data stats --input data.jsonl --output stats.json --tokenizer tokenizer.json
    python -m training.data prepare --input raw/ --output-dir prepared --target chat \
        --ratios 0.8 0.1 0.1 --seed 42 --protected-attributes gender age_band

prepare (the pipeline's data step) converts like format, validates like validate, drops duplicates (counted,
not an error), and splits like split, stratified by the source record's label, into
<output-dir>/{train,validation,test}/<split>.jsonl; every split must get at least one record.
--protected-attributes keeps those source fields in every converted record's "metadata" object (every
record must carry each), for the evaluation's fairness metrics.

Inside a SageMaker Processing job, --input/--output default to /opt/ml/processing/input|output/...
"""

from __future__ import annotations

import sys

from training.common.args import run_subcommands
from training.data.convert import FormatArgs, run_format
from training.data.prepare import PrepareArgs, run_prepare
from training.data.split import SplitArgs, run_split
from training.data.stats import StatsArgs, run_stats
from training.data.validate import ValidateArgs, run_validate

COMMANDS = {
    "validate": (ValidateArgs, run_validate),
    "format": (FormatArgs, run_format),
    "split": (SplitArgs, run_split),
    "stats": (StatsArgs, run_stats),
    "prepare": (PrepareArgs, run_prepare),
}


def main(argv: list[str] | None = None) -> int:
    return run_subcommands(
        "python -m training.data", __doc__.splitlines()[0], COMMANDS, sys.argv[1:] if argv is None else argv
    )


if __name__ == "__main__":
    sys.exit(main())
