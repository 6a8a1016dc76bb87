"""Explainability: token-level attributions of a causal LM's answers, as JSON and an HTML heat map."""
