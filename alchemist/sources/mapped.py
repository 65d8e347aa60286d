"""Any JSON/JSONL/Parquet/CSV corpus, with the recipe saying which field is which."""

from alchemist.code import detect_language, normalize_language
from alchemist.sources.alpaca import is_placeholder
from alchemist.sources.base import Adapter, Converted, chat, leftovers, text

ROLES = ("instruction", "input", "response", "system", "language")


def convert(record: dict, options: dict) -> Converted:
    fields = options["fields"]
    _, instruction = text(record, fields["instruction"])
    _, response = text(record, fields["response"])
    _, extra_input = text(record, fields["input"], required=False) if "input" in fields else (None, None)
    _, system = text(record, fields["system"], required=False) if "system" in fields else (None, None)
    _, lang = text(record, fields["language"], required=False) if "language" in fields else (None, None)
    if extra_input and not is_placeholder(extra_input):
        instruction = f"{instruction.rstrip()}\n\n{extra_input.strip()}"
    return Converted(
        messages=chat(instruction, response, system or None),
        language=normalize_language(lang) or detect_language(response, instruction),
        extra=leftovers(record, {f.split(".")[0] for f in fields.values()}),
    )


def _validate(options: dict) -> str | None:
    fields = options.get("fields")
    example = "options: {fields: {instruction: question, response: answer}}"
    if not isinstance(fields, dict) or "instruction" not in fields or "response" not in fields:
        return f"adapter 'mapped' needs options.fields with at least 'instruction' and 'response', e.g. {example}"
    unknown = sorted(set(fields) - set(ROLES))
    if unknown:
        return f"options.fields: unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}"
    if not all(isinstance(v, str) and v for v in fields.values()):
        return "options.fields values are field names (dotted paths allowed, e.g. data.question)"
    return None


ADAPTER = Adapter(
    name="mapped",
    description="any JSON/JSONL/Parquet/CSV records with a field mapping: options.fields {instruction, input, response, system, language}",
    convert=convert,
    options={"fields": "role -> field name (dotted paths allowed)"},
    validate_options=_validate,
)
