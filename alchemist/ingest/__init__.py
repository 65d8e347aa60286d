"""Ingest: every source's records become Sample rows, one shard per source."""
