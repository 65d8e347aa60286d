"""The loss mask a chat template gives, checked and shown before any training.

A template decides which tokens carry a loss: with `{% generation %}` tags around assistant
content, only what the model must learn to say. A template that marks nothing, marks the prompt,
or leaves the end-of-turn token outside the mask trains a model that never answers, parrots its
prompt, or never stops. `check_conversation` finds each of these; the train stage runs it on a
built-in conversation before any compute, and `alchemist train RECIPE --check` runs it on a few
samples of each task of the recipe's data (alchemist.train.check) and shows, token by token,
what carries a loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow.parquet as pq

from alchemist.errors import UserError

# A system turn, two exchanges: every role, every boundary a template can get wrong.
EXAMPLE = [
    {"role": "system", "content": "You write short, correct Python."},
    {"role": "user", "content": "Write a function that adds two numbers."},
    {"role": "assistant", "content": "def add(a, b):\n    return a + b"},
    {"role": "user", "content": "Now one that doubles a number."},
    {"role": "assistant", "content": "def double(x):\n    return 2 * x"},
]
# markup a template may put inside the mask besides the content and the end-of-turn token
# (a newline before it, a boundary token shared with the prompt's last characters)
_SLACK_CHARS = 8


@dataclass
class Rendered:
    ids: list[int]
    mask: list[int]
    pieces: list[str]  # each token's text
    problems: list[str] = field(default_factory=list)


def render(tokenizer, messages: list[dict]) -> Rendered:
    out = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids = list(out["input_ids"])
    mask = [int(m) for m in out["assistant_masks"]]
    pieces = [tokenizer.decode([t]) for t in ids]
    return Rendered(ids, mask, pieces)


def spans(mask: list[int]) -> list[tuple[int, int]]:
    """(start, end) of each run of masked tokens."""
    found, start = [], None
    for i, m in enumerate([*mask, 0]):
        if m and start is None:
            start = i
        elif not m and start is not None:
            found.append((start, i))
            start = None
    return found


def check_conversation(tokenizer, messages: list[dict], end_of_turn: str, train_on_prompt: bool = False) -> Rendered:
    """Render `messages` and list what is wrong with its loss mask (in `problems`)."""
    r = render(tokenizer, messages)
    eot_id = tokenizer.convert_tokens_to_ids(end_of_turn)
    answers = [m["content"] for m in messages if m["role"] == "assistant"]
    found = spans(r.mask)
    if not any(r.mask):
        r.problems.append("no token carries a loss (the template marks no assistant turn)")
        return r
    if all(r.mask):
        r.problems.append("every token carries a loss, the prompt included")
        return r
    if len(found) != len(answers):
        r.problems.append(f"{len(found)} marked spans for {len(answers)} assistant turns")
        return r
    for n, ((a, b), answer) in enumerate(zip(found, answers), 1):
        text = "".join(r.pieces[a:b])
        if r.ids[b - 1] != eot_id:
            r.problems.append(f"assistant turn {n} does not end with {end_of_turn!r} inside the loss mask")
        if answer.strip() not in text:
            r.problems.append(f"assistant turn {n}'s text is not all inside the loss mask")
        elif not train_on_prompt and len(text) - len(answer) - len(end_of_turn) > _SLACK_CHARS:
            r.problems.append(f"assistant turn {n}'s loss mask reaches into the prompt ({text[:40]!r}...)")
    return r


def check_pair(tokenizer, end_of_turn: str, source: str, train_on_prompt: bool = False) -> None:
    """Refuse a template/tokenizer pair whose mask is wrong on the built-in conversation (one line)."""
    r = check_conversation(tokenizer, EXAMPLE, end_of_turn, train_on_prompt)
    if r.problems:
        raise UserError(f"train.chat_template: the {source} template gives a wrong loss mask: {r.problems[0]}; "
                        "choose another train.chat_template (alchemist, chatml, deepseek-coder) or fix the "
                        "model's template; `alchemist train RECIPE --check` shows the mask")


def samples_per_task(data_path, per_task: int) -> list[tuple[str, str, list[dict]]]:
    """(id, task, messages) of the first `per_task` samples of each task, in file order."""
    table = pq.read_table(data_path, columns=["id", "task", "messages"])
    taken: dict[str, int] = {}
    out = []
    for sid, task, msgs in zip(*(table.column(c).to_pylist() for c in ("id", "task", "messages"))):
        if taken.get(task, 0) < per_task:
            taken[task] = taken.get(task, 0) + 1
            out.append((sid, task, msgs))
    return sorted(out, key=lambda s: s[1])


def mask_record(tokenizer, data_path, end_of_turn: str, train_on_prompt: bool, max_tokens: int = 400) -> list[dict]:
    """One sample of each task as the model is trained on it: runs of token text with whether
    they carry a loss (model/loss_mask.json, shown in report.html). Long samples are cut at
    `max_tokens` for the page, never for training."""
    out = []
    for sid, task, messages in samples_per_task(data_path, 1):
        r = check_conversation(tokenizer, messages, end_of_turn, train_on_prompt)
        cut = min(len(r.ids), max_tokens)
        runs = [{"text": "".join(r.pieces[a:b]), "loss": bool(r.mask[a])} for a, b in _runs(r.mask[:cut])]
        out.append({"id": sid, "task": task, "tokens": len(r.ids), "loss_tokens": sum(r.mask), "shown": cut,
                    "runs": runs, "problems": r.problems})
    return out


def show(r: Rendered):
    """The rendered sample as rich Text: loss-carrying tokens bold green between ⟦ ⟧, the rest dim."""
    from rich.text import Text

    text = Text()
    for a, b in _runs(r.mask):
        chunk = "".join(r.pieces[a:b])
        if r.mask[a]:
            text.append("⟦", style="green")
            text.append(chunk, style="bold green")
            text.append("⟧", style="green")
        else:
            text.append(chunk, style="dim")
    return text


def _runs(mask: list[int]) -> list[tuple[int, int]]:
    out, start = [], 0
    for i in range(1, len(mask) + 1):
        if i == len(mask) or mask[i] != mask[start]:
            out.append((start, i))
            start = i
    return out
