from alchemist.execution.zygote import *  # noqa: F401,F403  (moved: alchemist/execution/zygote.py)
