"""Prompt templates: files in prompts/ named NAME.vN.txt, sections `## system`, `## user`,
`## assistant`, placeholders `{{field}}`. The newest version is used, and its id (NAME.vN) is
recorded in every Sample it produced.

In a request template, a last `## assistant` section is the start of the answer, pre-filled (e.g.
an opening tag): a small model that would not write the format itself continues it. The hf backend
continues that turn; OpenAI-compatible servers do where they support it (vLLM:
`extra_body: {continue_final_message: true, add_generation_prompt: false}`), and a model that
answers in a new turn writes the whole format, which the parsers accept as well."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROMPTS = Path(__file__).parent / "prompts"
_SECTION = re.compile(r"^## (system|user|assistant)\s*$", re.M)
_FIELD = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class Template:
    name: str
    version: int
    sections: tuple[tuple[str, str], ...]  # (role, text)

    @property
    def id(self) -> str:
        return f"{self.name}.v{self.version}"

    def messages(self, **fields: str) -> list[dict]:
        """The sections as chat messages with every {{field}} filled in (values are not re-scanned)."""
        def fill(text: str) -> str:
            def sub(m: re.Match) -> str:
                if m.group(1) not in fields:
                    raise KeyError(f"template {self.id} needs field '{m.group(1)}'")
                return str(fields[m.group(1)])
            return _FIELD.sub(sub, text)

        return [{"role": role, "content": fill(text)} for role, text in self.sections]


@cache
def load(name: str) -> Template:
    versions = sorted((int(p.name.rsplit(".v", 1)[1].split(".")[0]), p) for p in PROMPTS.glob(f"{name}.v*.txt"))
    if not versions:
        raise FileNotFoundError(f"no prompt template {name}.vN.txt in {PROMPTS}")
    version, path = versions[-1]
    text = path.read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    sections = tuple((parts[i], parts[i + 1].strip("\n")) for i in range(1, len(parts) - 1, 2))
    return Template(name, version, sections)
