"""One GRPO process, for torchrun: the grpo function on a spec and prompts written by the stage.

    torchrun --nproc_per_node 8 -m alchemist.rl.worker SPEC.json PROMPTS.jsonl MODEL OUT WORK SEED
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from alchemist.rl.spec import RLSpec
from alchemist.rl.trainer import grpo
from alchemist.training import die_with_parent, rank_main


def main(argv: list[str]) -> int:
    die_with_parent()
    if len(argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    spec = RLSpec.model_validate(json.loads(Path(argv[0]).read_text()))
    prompts = [json.loads(line) for line in Path(argv[1]).read_text(encoding="utf-8").splitlines() if line]
    return rank_main(lambda say: grpo(spec, argv[2], prompts, Path(argv[3]), Path(argv[4]), seed=int(argv[5]), say=say))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
