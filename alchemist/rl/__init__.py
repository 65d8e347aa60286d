"""The reinforcement stage: GRPO on the run's samples that carry tests, rewarded by the sandbox."""
