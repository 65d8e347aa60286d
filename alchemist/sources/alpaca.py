"""Alpaca format: instruction, optional input, output (or response)."""

from alchemist.code import detect_language
from alchemist.sources.base import Adapter, Converted, chat, leftovers, text

# What Code Alpaca and its descendants put in `input` when there is none.
NO_INPUT = {"", "<noinput>", "noinput", "<noinput>.", "<no input>", "n/a", "<none>", "none", "nan", "null"}


def is_placeholder(value: str) -> bool:
    return value.strip().lower().replace(" ", "") in NO_INPUT or value.strip().lower() in NO_INPUT


def convert(record: dict, options: dict) -> Converted:
    k_ins, instruction = text(record, "instruction")
    k_inp, extra_input = text(record, "input", required=False)
    k_out, output = text(record, "output", "response")
    if extra_input and not is_placeholder(extra_input):
        instruction = f"{instruction.rstrip()}\n\n{extra_input.strip()}"
    return Converted(
        messages=chat(instruction, output),
        language=detect_language(output, instruction),
        extra=leftovers(record, {k_ins, k_inp, k_out}),
    )


ADAPTER = Adapter(
    name="alpaca",
    description="instruction / input / output (or response) records, e.g. Code Alpaca; placeholder inputs such as <noinput> are dropped",
    convert=convert,
)
