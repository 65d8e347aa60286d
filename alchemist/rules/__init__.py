"""The curation rules, shared by the stages that judge samples: curate applies them to every ingested
sample, relabel to what an LLM produced. Exact keys, near-duplicate signatures, quality filters and
benchmark decontamination (n-grams, code structure, embeddings, an optional LLM judge, and the
calibrated decision over them)."""
