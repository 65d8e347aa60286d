"""Curation: exact and near dedup, decontamination, quality filters."""
