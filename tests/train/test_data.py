import pytest
from transformers import AutoTokenizer

from alchemist.errors import UserError
from alchemist.train import data as tokdata
from alchemist.train.templates import apply_format
from tests.train.conftest import make_rows, write_parquet


def tokenizer(model, name="chatml"):
    tok = AutoTokenizer.from_pretrained(model)
    apply_format(tok, name)
    return tok


def run(path, tok, cache, **over):
    kw = dict(max_seq_len=256, overlong="truncate", train_on_prompt=False, eval_fraction=0.0,
              eval_max_samples=64, seed=0, cache_dir=cache)
    kw.update(over)
    return tokdata.tokenize(path, tok, **kw)


def test_only_assistant_tokens_are_labeled_with_the_end_of_turn(base_model, data_path, rows, tmp_path):
    tok = tokenizer(base_model)
    got = run(data_path, tok, tmp_path, max_seq_len=4096)
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    assert len(got.train) == len(rows)
    for ex, row in zip(got.train, rows):
        labeled = [t for t in ex["labels"] if t != -100]
        answers = [m["content"] for m in row["messages"] if m["role"] == "assistant"]
        assert tok.decode(labeled) == "".join(a + "<|im_end|>" for a in answers)
        assert labeled[-1] == eot
    assert got.stats.trainable_tokens == sum(sum(t != -100 for t in ex["labels"][1:]) for ex in got.train)


def test_train_on_prompt_labels_everything(base_model, data_path, tmp_path):
    got = run(data_path, tokenizer(base_model), tmp_path, train_on_prompt=True)
    ex = got.train[0]
    assert ex["labels"] == ex["input_ids"]


def test_overlong_samples_truncated_or_dropped_and_counted(base_model, data_path, tmp_path):
    tok = tokenizer(base_model)
    full = run(data_path, tok, tmp_path / "a", max_seq_len=4096)
    limit = 128
    over = sum(len(ex["input_ids"]) > limit for ex in full.train)
    assert over > 0
    cut = run(data_path, tok, tmp_path / "b", max_seq_len=limit, overlong="truncate")
    assert cut.stats.truncated == over and max(len(x) for x in cut.train["input_ids"]) == limit
    dropped = run(data_path, tok, tmp_path / "c", max_seq_len=limit, overlong="drop")
    assert dropped.stats.dropped == {"overlong": over}
    assert len(dropped.train) == len(full.train) - over
    assert dropped.stats.kept + sum(dropped.stats.dropped.values()) == dropped.stats.samples


def test_cache_hit_on_rerun_and_miss_on_change(base_model, data_path, tmp_path):
    tok = tokenizer(base_model)
    first = run(data_path, tok, tmp_path)
    again = run(data_path, tok, tmp_path)
    assert not first.cache_hit and again.cache_hit
    assert again.train["input_ids"] == first.train["input_ids"]
    assert not run(data_path, tok, tmp_path, max_seq_len=200).cache_hit
    assert not run(data_path, tokenizer(base_model, "alchemist"), tmp_path).cache_hit


def test_held_out_slice_is_stratified_and_stable(base_model, data_path, tmp_path):
    tok = tokenizer(base_model)
    got = run(data_path, tok, tmp_path, eval_fraction=0.1)
    assert set(got.eval) == {"alchemist_prompt", "code_review", "codegen"}
    assert got.stats.held_out == sum(len(d) for d in got.eval.values())
    assert len(got.train) + got.stats.held_out == got.stats.kept
    rows = [(str(i), t) for i, t in enumerate(["a"] * 30 + ["b"] * 10)]
    assert tokdata.held_out_ids(rows, 0.1, 100, 0) == tokdata.held_out_ids(list(reversed(rows)), 0.1, 100, 0)


def test_zero_trainable_tokens_is_a_user_error(base_model, tmp_path):
    rows = make_rows(4)
    for r in rows:
        r["messages"] = [m for m in r["messages"] if m["role"] != "assistant"]
    path = write_parquet(tmp_path / "t.parquet", rows)
    with pytest.raises(UserError, match="no trainable tokens"):
        run(path, tokenizer(base_model), tmp_path / "cache")
