"""The tiny recipe's training learns its data: the held-out loss ends below the unigram entropy
of the trained tokens (what a model that ignores context reaches at best), so the smoke run
catches a label, mask or packing regression."""

import collections
import json
import math

import pytest
import yaml
from datasets import load_from_disk

from alchemist.train.spec import TrainSpec
from alchemist.train.trainer import train
from tests.helpers import ROOT, run_cli


def label_counts(dataset) -> collections.Counter:
    counts = collections.Counter()
    for labels in dataset["labels"]:
        counts.update(t for t in labels[1:] if t != -100)
    return counts


def entropy(counts: collections.Counter) -> float:
    n = sum(counts.values())
    return -sum(c / n * math.log(c / n) for c in counts.values())


@pytest.mark.slow
@pytest.mark.timeout(3600)  # a minute or two on an idle machine; far longer on a loaded one
def test_tiny_recipe_ends_below_the_unigram_entropy_of_its_data(tmp_path):
    r = run_cli("data", "recipes/tiny.yaml", "--set", f"output_dir={tmp_path / 'run'}", timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    section = yaml.safe_load((ROOT / "recipes" / "tiny.yaml").read_text())["train"]
    spec = TrainSpec(**{**section, "report_to": []})
    work = tmp_path / "work"
    stats = train(spec, tmp_path / "run" / "data" / "final" / "train.parquet", tmp_path / "model", work, seed=0,
                  say=lambda m: None)
    cache = next(p for p in (work / "tokenized").iterdir() if (p / "stats.json").is_file())
    unigram = entropy(label_counts(load_from_disk(str(cache / "train"))))
    held = {p.name: sum(label_counts(load_from_disk(str(p))).values()) for p in (cache / "eval").iterdir()}
    assert set(held) == set(stats["eval_loss"]) and sum(held.values()) > 500
    # the held-out loss per label token, over every task
    loss = sum(stats["eval_loss"][t] * n for t, n in held.items()) / sum(held.values())
    assert loss < unigram - 0.2, (loss, unigram, stats["eval_loss"])
    history = json.loads((tmp_path / "model" / "training_report.json").read_text())["history"]
    first = next(h["loss"] for h in history if "loss" in h)
    assert first > unigram  # it started above: the model learned this, it did not begin there
