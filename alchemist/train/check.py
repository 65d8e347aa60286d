"""`alchemist train RECIPE --check`: the chat template's loss mask on a few samples of each task,
shown token by token, checked before any compute (a wrong mask is one line, exit 2)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from alchemist.errors import UserError
from alchemist.train.mask import EXAMPLE, check_conversation, samples_per_task, show
from alchemist.train.templates import apply_format
from alchemist.train.trainer import model_source


def run_check(spec, data_path, console, per_task: int = 2) -> int:
    """`alchemist train RECIPE --check`: the template's loss mask on the built-in conversation and
    on `per_task` samples of each task; a wrong mask is a one-line error (exit 2)."""
    from transformers import AutoTokenizer  # heavy: imported when a check runs

    with tempfile.TemporaryDirectory(prefix="alchemist-check-") as tmp:
        source = model_source(spec, Path(tmp))
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, revision=spec.revision)
        except OSError as e:
            raise UserError(f"train.model: cannot load the tokenizer of {spec.model} ({str(e).splitlines()[0][:160]})") from None
    chosen = apply_format(tokenizer, spec.chat_template)
    console.print(f"template: {chosen.source}; a turn ends with {chosen.end_of_turn!r}; "
                  f"⟦marked⟧ tokens carry a loss{' (train_on_prompt: every token does)' if spec.train_on_prompt else ''}")
    checked = [("example", "built-in", EXAMPLE)]
    if Path(data_path).is_file():
        checked += samples_per_task(data_path, per_task)
    else:
        console.print(f"no training data at {data_path} yet (run `alchemist data RECIPE`): the built-in conversation only")
    bad = []
    for sid, task, messages in checked:
        r = check_conversation(tokenizer, messages, chosen.end_of_turn, spec.train_on_prompt)
        marked = sum(r.mask)
        console.rule(f"{task} · {sid} · {marked}/{len(r.ids)} tokens carry a loss"
                     f"{' · over max_seq_len, cut in training' if len(r.ids) > spec.max_seq_len else ''}")
        console.print(show(r))
        for p in r.problems:
            console.print(f"[red]✗ {p}[/red]")
        bad += [f"{task} sample {sid}: {p}" for p in r.problems]
    if bad:
        raise UserError(f"train.chat_template: the {chosen.source} template gives a wrong loss mask ({len(bad)} problems), "
                        f"first: {bad[0]}")
    console.print(f"[green]✓[/green] {len(checked)} conversations: every assistant turn ends with "
                  f"{chosen.end_of_turn!r} inside the loss mask, the prompt carries none")
    return 0
