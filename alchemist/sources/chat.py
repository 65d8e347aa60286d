"""Conversation corpora: OpenAI-style `messages` and ShareGPT `conversations` (from/value)."""

from functools import partial

from alchemist.code import detect_language
from alchemist.sources.base import Adapter, AdapterError, Converted, leftovers

DEFAULT_ROLES = {
    "system": "system", "user": "user", "human": "user", "prompter": "user",
    "assistant": "assistant", "gpt": "assistant", "bot": "assistant", "model": "assistant", "chatgpt": "assistant",
}


def convert(record: dict, options: dict, key: str, role_key: str, content_key: str) -> Converted:
    key = options.get("key", key)
    role_key = options.get("role_key", role_key)
    content_key = options.get("content_key", content_key)
    roles = {**DEFAULT_ROLES, **{str(k).lower(): v for k, v in options.get("role_map", {}).items()}}
    turns = record.get(key)
    if isinstance(turns, str):  # some mirrors store the list as JSON or Python-literal text
        turns = _parse_list(turns)
    if turns is None:
        raise AdapterError(f"missing field '{key}'")
    if not isinstance(turns, list):
        raise AdapterError(f"field '{key}' is {type(turns).__name__}, expected a list of turns")
    messages = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise AdapterError(f"{key}[{i}] is {type(turn).__name__}, expected an object with '{role_key}' and '{content_key}'")
        role, content = turn.get(role_key), _text_of(turn.get(content_key))
        if not isinstance(role, str) or role.lower() not in roles:
            raise AdapterError(f"{key}[{i}].{role_key} is {role!r}; known roles: {', '.join(sorted(roles))} (map others with options.role_map)")
        if not isinstance(content, str):
            raise AdapterError(f"{key}[{i}].{content_key} is {type(content).__name__}, expected text")
        messages.append({"role": roles[role.lower()], "content": content})
    while messages and messages[-1]["role"] != "assistant":  # an unanswered last question teaches nothing
        messages.pop()
    if not any(m["role"] == "user" for m in messages):
        raise AdapterError(f"'{key}' has no user turn followed by an assistant turn")
    response = messages[-1]["content"]
    return Converted(messages=messages, language=detect_language(response), extra=leftovers(record, {key}))


def _text_of(content):
    """OpenAI's content may be a list of parts; text parts are joined, other parts make it unusable."""
    if isinstance(content, list) and content and all(isinstance(p, dict) and p.get("type") == "text"
                                                     and isinstance(p.get("text"), str) for p in content):
        return "\n".join(p["text"] for p in content)
    return content


def _parse_list(text: str):
    import ast
    import json

    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
            if isinstance(value, list):
                return value
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
    return text


def _validate(options: dict) -> str | None:
    role_map = options.get("role_map", {})
    if not isinstance(role_map, dict) or any(v not in ("system", "user", "assistant") for v in role_map.values()):
        return "options.role_map maps source roles to one of system, user, assistant, e.g. {human: user, bot: assistant}"
    return None


_OPTIONS = {
    "key": "field holding the list of turns",
    "role_key": "field of a turn holding its role",
    "content_key": "field of a turn holding its text",
    "role_map": "source role -> system/user/assistant",
}

MESSAGES = Adapter(
    name="messages",
    description="OpenAI-style conversations: a `messages` list of {role, content} (field and role names configurable)",
    convert=partial(convert, key="messages", role_key="role", content_key="content"),
    options=_OPTIONS,
    validate_options=_validate,
)
SHAREGPT = Adapter(
    name="sharegpt",
    description="ShareGPT conversations: a `conversations` list of {from: human/gpt/system, value}",
    convert=partial(convert, key="conversations", role_key="from", content_key="value"),
    options=_OPTIONS,
    validate_options=_validate,
)
