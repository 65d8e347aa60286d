"""Evaluation: benchmark programs run in a sandbox, scored with unbiased pass@k."""
