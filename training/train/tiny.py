"""A tiny random Llama and a byte-level BPE tokenizer trained on a few lines of text, built locally.

For tests and smoke runs of the training job where nothing may be downloaded:

    python -m training.train.tiny /tmp/tiny-llama [--vocab-size 300] [--hidden-size 32] [--layers 2]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

SMOKE_TEXT = (
    "the cat sat on the mat",
    "a dog ran in the park",
    "what is two plus two? four",
    "name a colour of the sky. blue",
)


def build_tiny_model(
    path: Path,
    corpus: Sequence[str] = SMOKE_TEXT,
    vocab_size: int = 300,
    hidden_size: int = 32,
    layers: int = 2,
    seed: int = 0,
    chat_template: str | None = None,
) -> Path:
    """Write config.json, model.safetensors and tokenizer files for a random Llama to ``path``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<pad>"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(list(corpus), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    if chat_template:
        fast.chat_template = chat_template
    path.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(path)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.train.tiny", description=(__doc__ or "").strip().splitlines()[0]
    )
    parser.add_argument("path", type=Path, help="Directory to write the model and tokenizer to (created)")
    parser.add_argument("--vocab-size", type=int, default=300, help="BPE vocabulary size (default: 300)")
    parser.add_argument("--hidden-size", type=int, default=32, help="Hidden size (default: 32)")
    parser.add_argument("--layers", type=int, default=2, help="Decoder layers (default: 2)")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the random weights (default: 0)")
    args = parser.parse_args(argv)
    path = build_tiny_model(
        args.path,
        vocab_size=args.vocab_size,
        hidden_size=args.hidden_size,
        layers=args.layers,
        seed=args.seed,
    )
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
