"""A tiny HTML builder that escapes by default: text from the data (instructions, source names,
file paths) is hostile, so only fragments this package built itself are `Markup`."""

from __future__ import annotations

import html
from collections.abc import Iterable


class Markup(str):
    """HTML this package produced; everything else passed to `tag` is escaped."""


def esc(value) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable) -> Markup:
    return Markup("".join(esc(p) for p in parts))


def tag(name: str, *children, **attrs) -> Markup:
    """`tag("td", "a < b", class_="num")` -> `<td class="num">a &lt; b</td>`. Attribute names end
    in `_` where Python reserves them; None/False attributes are left out."""
    parts = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        key = key.rstrip("_").replace("_", "-")
        parts.append(f" {key}" if value is True else f' {key}="{esc(value)}"')
    body = join(c for c in children if c is not None)
    return Markup(f"<{name}{''.join(parts)}>{body}</{name}>")


def table(head: list, rows: Iterable[list], classes: Iterable[str | None] | None = None, numeric: set[int] | None = None,
          caption: str | None = None) -> Markup:
    """A table; `numeric` holds the column indexes to right-align, `classes` one class per row."""
    numeric = numeric or set()
    rows = list(rows)
    classes = list(classes) if classes is not None else [None] * len(rows)
    th = join(tag("th", h, class_="num" if i in numeric else None) for i, h in enumerate(head))
    body = join(tag("tr", join(tag("td", c, class_="num" if i in numeric else None) for i, c in enumerate(r)), class_=k)
                for r, k in zip(rows, classes))
    return tag("table", tag("caption", caption) if caption else None, tag("thead", tag("tr", th)), tag("tbody", body))


def num(value, digits: int = 0) -> str:
    """1234567 -> '1,234,567'; floats with `digits` decimals; None -> '–'."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and digits == 0 and value.is_integer()):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)
