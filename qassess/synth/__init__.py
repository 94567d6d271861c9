"""Synthetic training data: graded distortions of photos, labelled by a full-reference metric, with
reference texts."""
