"""Running untrusted code: the floor that `evaluate` and `curate` both stand on (neither imports
the other). See `alchemist.execution.sandbox` for what is enforced and how."""

from alchemist.execution.languages import isolation
from alchemist.execution.sandbox import Checks, IsolationError, Limits, Outcome, SandboxPool, run_python

__all__ = ["Checks", "IsolationError", "Limits", "Outcome", "SandboxPool", "isolation", "run_python"]
