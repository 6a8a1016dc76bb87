"""Disaster recovery: the model registry kept as replicated data, and the restore into the DR region."""
