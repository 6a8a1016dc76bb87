"""Helpers shared by the data preparation, training and evaluation entry points."""
