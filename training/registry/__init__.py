"""The model registry as the pipeline sees it: which registered version a candidate must beat."""
