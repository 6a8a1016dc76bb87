"""Model evaluation: task metrics, perplexity and fairness, reported as JSON, CSV and HTML."""
