"""Tiny models and a tiny slice of real-looking training data, built offline once per session."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from alchemist.schema import Sample, rows_to_table
from tests.helpers import stdlib_functions

TASKS = ("codegen", "codegen", "codegen", "alchemist_prompt", "code_review")


def make_rows(n: int = 48, multi_turn_every: int = 7) -> list[dict]:
    """Conversations from real stdlib functions: plain, with a system turn (AlchemistPrompt),
    and multi-turn, across tasks."""
    rows = []
    for i, rec in enumerate(stdlib_functions(limit=n)):
        task = TASKS[i % len(TASKS)]
        msgs = [{"role": "user", "content": rec["instruction"]}, {"role": "assistant", "content": rec["output"]}]
        if task == "alchemist_prompt":
            msgs.insert(0, {"role": "system", "content": "Please generate Python code with a docstring."})
        if i % multi_turn_every == 0:
            msgs += [{"role": "user", "content": "Now explain it in one line."},
                     {"role": "assistant", "content": "It does what its docstring says."}]
        rows.append(Sample(source="stdlib", messages=msgs, task=task, language="python",
                           meta={"origin": rec["origin"]}).to_row())
    return rows


def write_parquet(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows_to_table(rows), path)
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from alchemist.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def base_model(tmp_path_factory, tiny_model) -> Path:
    """The tiny model as a base model ships: no chat template, no chat tokens' meaning."""
    import shutil

    out = tmp_path_factory.mktemp("models") / "base"
    shutil.copytree(tiny_model, out, dirs_exist_ok=True)
    (out / "chat_template.jinja").unlink(missing_ok=True)
    cfg = json.loads((out / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (out / "tokenizer_config.json").write_text(json.dumps(cfg))
    return out


@pytest.fixture(scope="session")
def rows() -> list[dict]:
    return make_rows()


@pytest.fixture(scope="session")
def data_path(tmp_path_factory, rows) -> Path:
    return write_parquet(tmp_path_factory.mktemp("data") / "train.parquet", rows)


def tiny_spec(model_path: Path, /, **over):
    from alchemist.train.spec import TrainSpec

    base = dict(model=str(model_path), max_seq_len=256, epochs=1, max_steps=4, lr=1e-3, warmup_ratio=0.0,
                logging_steps=1, save_steps=1000, eval_fraction=0.0, report_to=[], scheduler="linear")
    base.update(over)
    return TrainSpec(**base)
