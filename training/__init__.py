"""Code that runs inside SageMaker jobs (processing, training, evaluation) and on a workstation."""
