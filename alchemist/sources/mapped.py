"""Any JSON/JSONL/Parquet/CSV corpus, with the recipe saying which field is which."""

from alchemist.code import detect_language, normalize_language
from alchemist.schema import make_tests
from alchemist.sources.alpaca import is_placeholder
from alchemist.sources.base import Adapter, AdapterError, Converted, chat, get_path, leftovers, text

ROLES = ("instruction", "input", "response", "system", "language", "tests", "test_setup")


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
        tests=_tests(record, fields),
    )


def _tests(record: dict, fields: dict) -> dict | None:
    """The record's shipped tests (`tests` role): a list of assert statements, as MBPP's
    `test_list`, or one text; `test_setup` (MBPP's `test_setup_code`) runs before them."""
    if "tests" not in fields:
        return None
    try:
        value = get_path(record, fields["tests"])
    except KeyError:
        value = None
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        code = "\n".join(v.strip() for v in value if v.strip())
    elif isinstance(value, str) or value is None:
        code = (value or "").strip()
    else:
        raise AdapterError(f"field '{fields['tests']}' is {type(value).__name__}, expected a list of asserts or text")
    if not code:
        return None  # a record without tests is kept as a plain sample
    _, setup = text(record, fields["test_setup"], required=False) if "test_setup" in fields else (None, None)
    return make_tests("test_list", code, "mapped", setup=(setup or "").strip())


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
    description="any JSON/JSONL/Parquet/CSV records with a field mapping: options.fields {instruction, input, response, system, language, tests, test_setup}",
    convert=convert,
    options={"fields": "role -> field name (dotted paths allowed)"},
    validate_options=_validate,
)
