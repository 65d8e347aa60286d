from alchemist.execution.sandbox import *  # noqa: F401,F403  (moved: import from alchemist.execution)
