"""Relabeling: AlchemistPrompts (hindsight prompts) and code-comprehension tasks."""
