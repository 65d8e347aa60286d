"""The curate stage end to end on real datatrove executors: exact and near duplicates,
contamination and junk dropped with their reasons; distinct clean samples kept."""

import random
import re

import pyarrow.parquet as pq
import pytest

from alchemist.curate.verdicts import curate
from alchemist.recipe import CurateSpec
from alchemist.schema import Sample, rows_to_table
from alchemist.testsets import load_benchmark


def small_edit(record, kind, rng):
    ins, out = record["instruction"], record["output"]
    if kind == "rename":  # rename one local identifier everywhere
        names = sorted(set(re.findall(r"\b([a-z_][a-z0-9_]{2,})\s*=", out)))
        if names:
            old = rng.choice(names)
            out = re.sub(rf"\b{old}\b", old + "_v2", out)
    elif kind == "comment":
        out = out.replace("\n", "\n    # note: see above\n", 1)
    elif kind == "blank":
        lines = out.split("\n")
        lines.insert(len(lines) // 2, "")
        out = "\n".join(lines)
    elif kind == "reword":
        ins = ins.replace("Write a Python function", "Implement a Python function")
    return {**record, "instruction": ins, "output": out}


def to_sample(record, i):
    return Sample(source="s", messages=[{"role": "user", "content": record["instruction"]},
                                        {"role": "assistant", "content": record["output"]}],
                  language="python", meta={"where": f"x:{i}"})


@pytest.fixture(scope="module")
def verdicts_and_labels(clean_records, tmp_path_factory):
    rng = random.Random(0)
    clean = clean_records[:300]
    records, labels = [], []
    for r in clean:
        records.append(dict(r))
        labels.append("clean")
    for i, r in enumerate(clean[:60]):
        records.append({**small_edit(r, ("rename", "comment", "blank", "reword")[i % 4], rng), "pair": i})
        labels.append("near")
        records[i]["pair"] = i
    for r in clean[60:70]:
        records.append(dict(r))
        labels.append("exact")
    for p in load_benchmark("humaneval")[:20]:
        records.append({"instruction": f"Finish this:\n{p.prompt}", "output": f"```python\n{p.prompt}{p.solution}\n```"})
        labels.append("contaminated")
    for junk in ("", "ok", "I would use a loop for this task, it is easy.", 'print "python 2"'):
        records.append({"instruction": "Write code that prints hello.", "output": junk})
        labels.append("junk")
    order = list(range(len(records)))
    rng.shuffle(order)
    # originals must come before their copies, so shuffle only within the clean block's tail
    order = sorted(order, key=lambda i: (labels[i] != "clean", order.index(i)))
    records = [records[i] for i in order]
    labels = [labels[i] for i in order]
    tmp = tmp_path_factory.mktemp("curate")
    shard = tmp / "s.parquet"
    pq.write_table(rows_to_table([to_sample(r, i).to_row() for i, r in enumerate(records)]), shard)
    spec = CurateSpec.model_validate({"decontaminate": {"benchmarks": ["humaneval"]}, "executor": {"workers": 2}})
    verdicts = curate([shard], spec, load_benchmark("humaneval"), tmp / "work", seed=0)
    verdicts.pairs = [r.get("pair") for r in records]
    verdicts.records = records
    return verdicts, labels


def test_every_row_has_a_verdict(verdicts_and_labels):
    verdicts, labels = verdicts_and_labels
    assert len(verdicts.reasons) == len(labels)


def _shingles(record, n=3):
    from datatrove.utils.text import simplify_text

    from alchemist.rules.near import CodeWordTokenizer

    words = CodeWordTokenizer().word_tokenize(simplify_text(record["instruction"] + "\n" + record["output"]))
    return set(zip(*(words[i:] for i in range(n))))


def test_distinct_clean_samples_survive(verdicts_and_labels):
    verdicts, labels = verdicts_and_labels
    # of an original and its edited copy MinHash keeps one, not always the original: count the
    # clean samples lost for another reason
    lost = [r for r, lab in zip(verdicts.reasons, labels) if lab == "clean" and r not in (None, "near_duplicate")]
    clean = sum(lab == "clean" for lab in labels)
    # the structure and embedding signals may flag a rare look-alike (measured: 3 of 686 clean
    # samples); never a quality reason, and well under the 1% goal
    assert set(lost) <= {"contaminated"} and len(lost) <= 0.01 * clean
    # a clean sample dropped as a near duplicate must really be one: some other clean sample
    # (the standard library has twins, e.g. in posixpath and ntpath) shares most of its shingles
    clean = [(i, verdicts.records[i]) for i, lab in enumerate(labels) if lab == "clean"]
    shingles = {i: _shingles(r) for i, r in clean}
    for i, r in clean:
        if verdicts.reasons[i] == "near_duplicate" and r.get("pair") is None:
            best = max(len(shingles[i] & shingles[j]) / len(shingles[i] | shingles[j]) for j, _ in clean if j != i)
            assert best >= 0.5, (r["origin"], best)


def test_near_and_exact_duplicates_removed(verdicts_and_labels):
    verdicts, labels = verdicts_and_labels
    survivors = {}
    for r, pair in zip(verdicts.reasons, verdicts.pairs):
        if pair is not None:
            survivors[pair] = survivors.get(pair, 0) + (r is None)
    assert len(survivors) == 60
    # both copies go only when a third sample is a near-duplicate of them (the standard library
    # has such functions, e.g. in posixpath and ntpath)
    assert sum(n == 0 for n in survivors.values()) <= 3
    assert sum(n == 1 for n in survivors.values()) >= 54, survivors  # >= 90% of edited copies caught
    exact = [r for r, lab in zip(verdicts.reasons, labels) if lab == "exact"]
    assert exact == ["exact_duplicate"] * len(exact)
    for i, r in enumerate(verdicts.reasons):
        if r == "exact_duplicate":
            assert "duplicate_of" in verdicts.details[i]


def test_contaminated_and_junk_dropped_with_reasons(verdicts_and_labels):
    verdicts, labels = verdicts_and_labels
    cont = [(r, verdicts.details.get(i)) for i, (r, lab) in enumerate(zip(verdicts.reasons, labels)) if lab == "contaminated"]
    assert all(r == "contaminated" and d["matches"][0]["task_id"].startswith("HumanEval/") for r, d in cont)
    junk = sorted(r for r, lab in zip(verdicts.reasons, labels) if lab == "junk")
    assert junk == ["empty_response", "no_code", "python_syntax_error", "short_response"]



def test_the_relabel_stage_near_index_agrees_with_datatrove(verdicts_and_labels, tmp_path):
    """Generated pairs are near-deduped in memory (relabel/curation.py) with the same shingles,
    hashes and bands as datatrove's pipeline here: no two samples datatrove kept collide in it,
    and the samples datatrove dropped as near duplicates collide with what it kept."""
    from alchemist.relabel.curation import NearIndex, near_text

    verdicts, _ = verdicts_and_labels
    samples = [to_sample(r, i) for i, r in enumerate(verdicts.records)]
    spec = CurateSpec.model_validate({}).dedup.near
    index = NearIndex(spec, 0, tmp_path)
    for i, s in enumerate(samples):
        if verdicts.reasons[i] is None:
            assert not index.duplicate(near_text(s)), i
            index.add(near_text(s))
    dropped = [s for i, s in enumerate(samples) if verdicts.reasons[i] == "near_duplicate"]
    caught = sum(index.duplicate(near_text(s)) for s in dropped)
    # a cluster is transitive (A~B, B~C keeps A, drops C): a few need a dropped sample in between
    assert dropped and caught >= 0.9 * len(dropped), (caught, len(dropped))
    built = NearIndex(spec, 0, tmp_path)
    built.build(near_text(s) for i, s in enumerate(samples) if verdicts.reasons[i] is None)
    assert [built.duplicate(near_text(s)) for s in dropped] == [index.duplicate(near_text(s)) for s in dropped]
