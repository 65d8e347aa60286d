"""CommitPackFT-style commits (old code, message, new code) as edit tasks."""

from pathlib import PurePosixPath

from alchemist.code import LANGUAGE_ALIASES, normalize_language
from alchemist.sources.base import Adapter, Converted, leftovers, text


def convert(record: dict, options: dict) -> Converted:
    k_msg, message = text(record, "message", "subject")
    _, old = text(record, "old_contents", "old_code")
    _, new = text(record, "new_contents", "new_code")
    _, file_name = text(record, "new_file", "old_file", required=False)
    _, lang_field = text(record, "lang", required=False)
    suffix = PurePosixPath(file_name).suffix.lstrip(".").lower() if file_name else ""
    language = normalize_language(lang_field) or LANGUAGE_ALIASES.get(suffix)
    tag = language or ""
    where = f" in `{file_name}`" if file_name else ""
    if old.strip():
        instruction = f"Here is the code{where}:\n\n```{tag}\n{old.rstrip()}\n```\n\n{message.strip()}\nRewrite the code to make this change."
    else:
        instruction = f"{message.strip()}\nWrite the new file{where}."
    response = f"```{tag}\n{new.rstrip()}\n```"
    used = {k_msg, "old_contents", "old_code", "new_contents", "new_code"}
    return Converted(
        messages=[{"role": "user", "content": instruction}, {"role": "assistant", "content": response}],
        language=language,
        extra=leftovers(record, used),
    )


ADAPTER = Adapter(
    name="commit",
    description="CommitPackFT-style commits: old_contents + message -> new_contents, as an edit task",
    convert=convert,
)
