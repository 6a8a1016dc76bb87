"""Developer tools that run over the synthesized app (not shipped in any image or Lambda)."""
