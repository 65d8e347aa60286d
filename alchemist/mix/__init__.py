"""Mix: the final training set from curated and relabeled samples."""
