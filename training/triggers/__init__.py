"""Triggers that start the fine-tuning pipeline without anyone at a console (new data, drift)."""
