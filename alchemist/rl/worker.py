"""One GRPO process, for torchrun: the grpo function on a spec and prompts written by the stage.

    torchrun --nproc_per_node 8 -m alchemist.rl.worker SPEC.json PROMPTS.jsonl MODEL OUT WORK SEED
"""

from __future__ import annotations

import ctypes
import json
import signal
import sys
from pathlib import Path

from alchemist.errors import UserError


def die_with_parent() -> None:
    """SIGKILL when the parent dies (kept across exec): a rank outlives neither its launcher nor
    a kill -9 of the run."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        pass


def main(argv: list[str]) -> int:
    from alchemist.rl.spec import RLSpec
    from alchemist.rl.trainer import grpo, rank

    die_with_parent()
    if len(argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    spec = RLSpec.model_validate(json.loads(Path(argv[0]).read_text()))
    prompts = [json.loads(line) for line in Path(argv[1]).read_text(encoding="utf-8").splitlines() if line]
    try:
        summary = grpo(spec, argv[2], prompts, Path(argv[3]), Path(argv[4]), seed=int(argv[5]),
                       say=lambda m: print(f"• {m}", file=sys.stderr, flush=True))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if rank() == 0:
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
