"""A tiny policy that has learned the answers to a few problems with tests (so GRPO's samples
pass, half-pass or fail for real in the sandbox), and those problems as Sample rows."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from alchemist.rl.prompts import select
from alchemist.schema import Sample, make_tests, rows_to_table

PROBLEMS = 3


def answer(i: int) -> str:
    return f"```python\ndef add(x):\n    return x + {i}\n```"


def samples() -> list[Sample]:
    out = []
    for i in range(PROBLEMS):
        # one name for every problem: an answer for another problem passes the first test only
        tests = f"assert add(0) >= 0\nassert add(1) == {1 + i}\nassert add(5) == {5 + i}\nassert add(-{i}) == 0"
        out.append(Sample("problems", [{"role": "user", "content": f"Write add(x), which returns x plus {i}."},
                                        {"role": "assistant", "content": answer(i)}],
                          language="python", tests=make_tests("asserts", tests, "test", verdict="passed")))
    return out


def memorize(model_dir: Path, steps: int = 150) -> None:
    """Teach the tiny model each prompt's answer (a plain next-token loop: test set-up, not the
    stage under test), so its samples at temperature 1 are mostly that answer, sometimes not."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    torch.manual_seed(0)
    rows = select(samples(), 0.0, 0, 1, None, True).train
    texts = []
    for r in rows:
        prompt = tok.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True)
        texts.append(prompt + r["reference"] + "<|im_end|>")
    batch = tok(texts, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.generation_config.eos_token_id = tok.convert_tokens_to_ids("<|im_end|>")
    model.save_pretrained(model_dir)


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """One torch thread here and in the processes the tests start: on a shared 2-core machine a
    second thread of a tiny model waits more than it works (6x slower under load)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def policy(tmp_path_factory) -> Path:
    import torch

    from alchemist.tiny_model import build_tiny_model

    where = build_tiny_model(tmp_path_factory.mktemp("rl") / "policy")
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # (a session fixture is set up before the per-test one above)
    try:
        memorize(where)
    finally:
        torch.set_num_threads(before)
    return where


@pytest.fixture
def problems(tmp_path) -> Path:
    path = tmp_path / "problems.parquet"
    pq.write_table(rows_to_table([s.to_row() for s in samples()]), path)
    return path
