"""Minimal INI file parser.

Supports [sections], key = value and key: value pairs, ; and # comments,
continuation lines (indented lines are appended to the previous value) and
${section:key} interpolation. Keys are case-insensitive.
"""

import re

_SECTION = re.compile(r"^\[(?P<name>[^\]]+)\]\s*$")
_PAIR = re.compile(r"^(?P<key>[^=:]+?)\s*[=:]\s*(?P<value>.*)$")
_REF = re.compile(r"\$\{(?:(?P<section>[^:}]+):)?(?P<key>[^}]+)\}")


class ParseError(ValueError):
    def __init__(self, lineno, message):
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno


def parse(text, default_section="DEFAULT"):
    data = {default_section: {}}
    section = default_section
    last_key = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if raw[0] in " \t" and last_key is not None:
            data[section][last_key] += "\n" + stripped
            continue
        m = _SECTION.match(stripped)
        if m:
            section = m.group("name").strip()
            data.setdefault(section, {})
            last_key = None
            continue
        m = _PAIR.match(stripped)
        if not m:
            raise ParseError(lineno, f"cannot parse {stripped!r}")
        last_key = m.group("key").strip().lower()
        data[section][last_key] = m.group("value").strip()
    return data


def interpolate(data, default_section="DEFAULT", max_depth=10):
    def resolve(section, value, depth):
        if depth > max_depth:
            raise ValueError("interpolation too deep (cycle?)")

        def repl(m):
            sec = m.group("section") or section
            key = m.group("key").lower()
            try:
                target = data[sec][key]
            except KeyError:
                target = data[default_section].get(key)
                if target is None:
                    raise KeyError(f"{sec}:{key}") from None
            return resolve(sec, target, depth + 1)

        return _REF.sub(repl, value)

    return {s: {k: resolve(s, v, 0) for k, v in pairs.items()} for s, pairs in data.items()}


if __name__ == "__main__":
    sample = """
    [paths]
    root = /srv/app
    logs = ${root}/logs

    [server]
    host: 0.0.0.0
    log_file = ${paths:logs}/server.log
    """
    import textwrap
    print(interpolate(parse(textwrap.dedent(sample))))
