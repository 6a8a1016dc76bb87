"""Data preparation for fine-tuning: validate, format, split and profile JSONL, JSON-array and CSV files."""
