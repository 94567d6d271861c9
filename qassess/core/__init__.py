"""The scoring core: settings, the assessor, prompts, completion parsing and ratings from probabilities."""
