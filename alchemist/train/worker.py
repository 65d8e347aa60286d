"""One training process, for launchers and tests: the train function on a spec given as JSON.

    torchrun --nproc_per_node 2 -m alchemist.train.worker SPEC.json DATA.parquet OUT WORK [SEED]

Prints the stage's summary as the last line (JSON), from rank 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from alchemist.train.spec import TrainSpec
from alchemist.train.trainer import train
from alchemist.training import die_with_parent, rank_main


def main(argv: list[str]) -> int:
    die_with_parent()  # a rank outlives neither its launcher nor a kill -9 of the run

    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    spec = TrainSpec.model_validate(json.loads(Path(argv[0]).read_text()))
    seed = int(argv[4]) if len(argv) == 5 else 0
    return rank_main(lambda say: train(spec, Path(argv[1]), Path(argv[2]), Path(argv[3]), seed=seed, say=say))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
