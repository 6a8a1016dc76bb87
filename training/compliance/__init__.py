"""Compliance report and SageMaker model card of one registered model version, from the registry."""
