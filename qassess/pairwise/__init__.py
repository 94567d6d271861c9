"""Pairwise comparison: a model's verdict on which of two images is better (both orders, one prompt with
both images), and scores from any set of verdicts (Bradley-Terry or Thurstone, with anchors)."""
