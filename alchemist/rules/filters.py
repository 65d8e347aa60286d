"""Quality filters. Each returns a drop reason or None; the reason becomes a manifest counter.

`screen` is the whole per-sample verdict, in order of precedence: contamination first (checked for
every sample, so a contaminated sample is never dropped under a quality reason, which would let it
become a data-filtering question and reach training data), then the quality reasons."""

from __future__ import annotations

import re

from alchemist.code import extract_code_blocks, python_parses
from alchemist.rules.decontaminate import contamination, contamination_batch
from alchemist.rules.spec import FilterSpec
from alchemist.schema import Sample

# Characters that mean the text was decoded wrongly or is binary: U+FFFD and C0 controls
# other than tab/newline/carriage return.
_GARBLED = re.compile("[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f]")
# Tasks whose response is code by construction or not meant to be code.
_CODE_TASKS = ("codegen", "code_snippet")


def garbled_ratio(text: str) -> float:
    if not text or not _GARBLED.search(text):
        return 0.0
    return len(_GARBLED.findall(text)) / len(text)


def screen(sample: Sample, spec: FilterSpec | None, index) -> tuple[str | None, dict | None]:
    """(reason, detail) for one sample: ("contaminated", {"matches": [...]}) when it overlaps a
    benchmark, else (a quality reason, None), else (None, None)."""
    detail = contamination(sample, index)
    if detail is not None:
        return "contaminated", detail
    return (quality_reason(sample, spec) if spec is not None else None), None


def screen_batch(samples: list[Sample], spec: FilterSpec | None, index) -> list[tuple[str | None, dict | None]]:
    """`screen` for many samples at once (the embedding signal batches its model calls). A sample
    that is not contaminated but came within the margin of a threshold carries its near misses:
    detail {"near_misses": [...]}, whatever its quality reason."""
    out = []
    for sample, (detail, near) in zip(samples, contamination_batch(samples, index)):
        if detail is not None:
            out.append(("contaminated", detail))
        else:
            out.append(((quality_reason(sample, spec) if spec is not None else None), {"near_misses": near} if near else None))
    return out


def quality_reason(sample: Sample, spec: FilterSpec) -> str | None:
    response = sample.response
    stripped = response.strip()
    if not stripped:
        return "empty_response"
    if len(stripped) < spec.min_response_chars:
        return "short_response"
    total = sum(len(m["content"]) for m in sample.messages)
    if total > spec.max_chars:
        return "too_long"
    if any(garbled_ratio(m["content"]) > spec.max_garbled_ratio for m in sample.messages):
        return "garbled_text"
    if sample.task not in _CODE_TASKS or not (spec.require_code or spec.python_syntax):
        return None
    if sample.task == "code_snippet":  # a source file's piece: its language is the file's
        blocks = [(sample.language, response)]
    else:
        answers = [m["content"] for m in sample.messages if m["role"] == "assistant"]
        blocks = [b for answer in answers for b in extract_code_blocks(answer)]
    if spec.require_code and not blocks:  # in a conversation, one answer with code is enough
        return "no_code"
    if spec.python_syntax:
        is_python = [code for lang, code in blocks if lang == "python" or (lang is None and sample.language == "python")]
        if any(not python_parses(code) for code in is_python):
            return "python_syntax_error"
    return None
