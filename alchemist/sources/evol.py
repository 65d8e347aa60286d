"""Single-turn instruction/response corpora: Evol-Instruct (instruction/output or response),
OSS-Instruct (problem/solution), and the common question/answer, prompt/completion spellings."""

from alchemist.code import detect_language, normalize_language
from alchemist.sources.base import Adapter, AdapterError, Converted, chat, leftovers, text

PAIRS = (
    ("instruction", "response"),
    ("instruction", "output"),
    ("problem", "solution"),
    ("question", "answer"),
    ("prompt", "completion"),
    ("query", "response"),
)


def convert(record: dict, options: dict) -> Converted:
    for ask, answer in PAIRS:
        if ask in record and answer in record:
            _, instruction = text(record, ask)
            _, response = text(record, answer)
            hint = record.get("lang") if isinstance(record.get("lang"), str) else None
            return Converted(
                messages=chat(instruction, response),
                language=normalize_language(hint) or detect_language(response, instruction),
                extra=leftovers(record, {ask, answer}),
            )
    names = ", ".join(f"{a}/{b}" for a, b in PAIRS)
    raise AdapterError(f"no instruction/response pair of fields (looked for {names}); fields present: {', '.join(record) or 'none'}")


ADAPTER = Adapter(
    name="evol",
    description="instruction/response pairs: Evol-Instruct (instruction/output), OSS-Instruct (problem/solution), question/answer, prompt/completion",
    convert=convert,
)
