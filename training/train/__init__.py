"""Fine-tuning job for causal language models (full, LoRA, QLoRA), SageMaker-aware; see __main__."""
