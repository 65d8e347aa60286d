"""One training process, for launchers and tests: the train function on a spec given as JSON.

    torchrun --nproc_per_node 2 -m alchemist.train.worker SPEC.json DATA.parquet OUT WORK [SEED]

Prints the stage's summary as the last line (JSON), from rank 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from alchemist.errors import UserError
from alchemist.train.spec import TrainSpec
from alchemist.train.stage import die_with_parent
from alchemist.train.trainer import rank, train


def main(argv: list[str]) -> int:
    die_with_parent()  # a rank outlives neither its launcher nor a kill -9 of the run

    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    spec = TrainSpec.model_validate(json.loads(Path(argv[0]).read_text()))
    seed = int(argv[4]) if len(argv) == 5 else 0
    try:
        summary = train(spec, Path(argv[1]), Path(argv[2]), Path(argv[3]), seed=seed,
                        say=lambda m: print(f"• {m}", file=sys.stderr, flush=True))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if rank() == 0:
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
