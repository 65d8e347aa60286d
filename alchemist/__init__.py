"""alchemist: build code LLMs the AlchemistCoder way."""

__version__ = "0.1.0"
