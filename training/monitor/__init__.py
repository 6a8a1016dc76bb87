"""Capture monitor: drift and answer health of captured endpoint traffic against the training baseline."""
