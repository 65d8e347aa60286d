"""Requests and answer parsers for each relabel task. Pure functions: a parser returns either
what it found or the reason it rejects the answer (a counter in the manifest)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace

from alchemist.code import extract_code_blocks, python_parses
from alchemist.llm.types import Sampling
from alchemist.relabel.templates import load
from alchemist.schema import Sample

MAX_QUOTED_CHARS = 6000  # of an instruction or response quoted inside a prompt


def clip(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "\n[...]"


def _tag(text: str, name: str) -> str | None:
    m = re.search(rf"<{name}>\s*(.*?)\s*</{name}>", text, re.S | re.I)
    return m.group(1).strip() if m else None


# -- AlchemistPrompts --------------------------------------------------------------------------

def alchemist_prompt_request(sample: Sample) -> list[dict]:
    return load("alchemist_prompt").messages(instruction=clip(sample.instruction), response=clip(sample.response),
                                             language=language_name(sample.language))


# Stop strings per task. The AlchemistPrompt request pre-fills `<prompt>` and asks for one line: a
# small model writes a prompt and then rambles on the next lines, so its answer ends at the first
# newline where the backend continues the pre-filled turn (hf); other backends stop at the tag only
# (a model answering in a new turn may open with a line of its own).
STOPS_CONTINUED = {"alchemist_prompt": ("</prompt>", "\n"), "instruction_evolution": ("</evolved>", "\n"),
                   "code_review": ("\n",)}
STOPS_NEW_TURN = {"alchemist_prompt": ("</prompt>",)}
# A continued answer is one line (the tasks above): more new tokens than this is a ramble, cut and
# rejected as truncated rather than paid for up to the recipe's max_tokens, which is sized for code.
LINE_MAX_TOKENS = 96


def stop_strings(task: str, continues_prefill: bool) -> tuple[str, ...]:
    return (STOPS_CONTINUED if continues_prefill else STOPS_NEW_TURN).get(task, ())


def task_sampling(task: str, sampling: Sampling, continues_prefill: bool) -> Sampling:
    """The recipe's sampling for one task's requests: its stop strings, and at most
    LINE_MAX_TOKENS new tokens where the backend continues a one-line pre-filled answer."""
    stops = stop_strings(task, continues_prefill)
    if continues_prefill and task in STOPS_CONTINUED:
        return replace(sampling, stop=stops, max_tokens=min(sampling.max_tokens, LINE_MAX_TOKENS))
    return replace(sampling, stop=stops)


# Names a prompt may give to a language, -> alchemist.code's canonical names. C is named only in
# phrases that cannot be a letter ("in C", "C code"); Java never matches inside JavaScript.
_LANGUAGE_NAMES = {
    "python": r"python", "javascript": r"javascript|node\.?js", "typescript": r"typescript", "java": r"java(?!\s*script)",
    "c": r"(?:in|using|the) C\b(?![+#])|\bC (?:code|program|function|language|snippet)", "cpp": r"c\+\+|cpp",
    "csharp": r"c#|c sharp|csharp", "go": r"golang|\bgo (?:code|program|function|language|snippet)|(?:in|using) go\b",
    "rust": r"rust", "ruby": r"ruby", "php": r"php", "kotlin": r"kotlin", "swift": r"swift", "scala": r"scala",
    "shell": r"bash|shell script", "sql": r"\bsql\b", "haskell": r"haskell", "lua": r"\blua\b", "perl": r"\bperl\b",
    "r": r"\bR (?:code|script|program|function|language)|(?:in|using) R\b",
}
_LANGUAGE_RE = {lang: re.compile(rf"(?<![\w+#]){pat}(?![\w+#])" if lang not in ("c", "go", "r") else pat,
                                 0 if lang in ("c", "r") else re.I) for lang, pat in _LANGUAGE_NAMES.items()}
_DISPLAY = {"python": "Python", "javascript": "JavaScript", "typescript": "TypeScript", "java": "Java", "c": "C", "cpp": "C++",
            "csharp": "C#", "go": "Go", "rust": "Rust", "ruby": "Ruby", "php": "PHP", "shell": "Shell", "sql": "SQL"}


def language_name(language: str | None) -> str:
    return _DISPLAY.get(language or "", (language or "unknown language").capitalize())


def languages_named(text: str) -> set[str]:
    """The programming languages a text names (canonical names of alchemist.code)."""
    return {lang for lang, rx in _LANGUAGE_RE.items() if rx.search(text)}


def _examples() -> set[str]:
    """The example prompts a template shows, normalized: a prompt that repeats one describes
    another answer, not this one."""
    text = " ".join(c for _, c in load("alchemist_prompt").sections)
    return {_norm(line[2:]) for line in text.splitlines() if line.startswith("- ")}


def _prefill(sample: Sample) -> str:
    """The words the request pre-fills after `<prompt>` (its last, assistant turn), which a
    continuation does not repeat."""
    last = alchemist_prompt_request(sample)[-1]
    text = last["content"]
    return text.split("<prompt>", 1)[1].strip() if last["role"] == "assistant" and "<prompt>" in text else ""


def _restates(prompt: str, instruction: str) -> bool:
    """Most of the prompt's content words (4+ letters, beyond the usual request words) come from
    the request: it repeats the task instead of describing the answer."""
    words = [w for w in _norm(prompt).split() if len(w) >= 4 and w not in _REQUEST_WORDS]
    asked = set(_norm(instruction).split())
    return len(words) >= 3 and sum(w in asked for w in words) >= 0.7 * len(words)


def _ungrounded(prompt: str, sample: Sample) -> bool:
    """Fewer than a third of the prompt's content words (5+ letters, beyond the usual request
    words; matched by their stem) occur anywhere in the sample's request or answer. Lenient on
    purpose: a prompt may name an approach or style the sample does not spell out."""
    languages = set(_LANGUAGE_NAMES) | {_norm(v) for v in _DISPLAY.values()}
    words = [w for w in _norm(prompt).split() if len(w) >= 5 and w not in _REQUEST_WORDS and w not in languages]
    text = _norm(f"{sample.instruction} {sample.response}")
    found = sum(w[: max(5, len(w) - 2)] in text for w in words)
    return len(words) >= 3 and found < len(words) / 3


_REQUEST_WORDS = {"please", "write", "generate", "provide", "code", "following", "task", "function", "program", "your",
                  "that", "this", "with", "using", "example", "python", "javascript", "java", "rust", "golang",
                  "should", "which", "their", "given", "returns", "return", "takes", "include", "including",
                  "attempt", "concept", "approach", "style", "output", "expected", "comments", "explanation", "tests", "within", "about",
                  "there", "where", "other", "every", "algorithm", "solution", "implement", "implements", "implementation",
                  "great", "needed", "simple", "efficient", "clear", "concise", "short"}


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _code_lines(response: str) -> set[str]:
    return {line.strip() for _, code in extract_code_blocks(response) for line in code.splitlines() if len(line.strip()) >= 20}


# An answer that declines the task, anywhere a sentence starts: a refusal is never a prompt.
_REFUSAL = re.compile(
    r"(?:^|[.!?:]\s+|\n\s*)(?:I'?m sorry|I am sorry|sorry,? but|I apologi[sz]e|unfortunately,? I\b"
    r"|I (?:can(?:no|')?t|can not|am unable|'m unable|am not able|'m not able|won'?t|will not|do not feel|don'?t feel)\b"
    r"|as an AI\b|as a (?:large )?language model\b)", re.I)
# A chatty lead-in before the prompt: an interjection ("Sure!") and/or an announcement ("Here is the
# prompt:", "Below is an AlchemistPrompt for this answer:") that ends at a colon or a line break, or
# a bare label ("Prompt:"). Cut, it leaves the prompt itself.
_INTERJECTION = r"(?:sure(?: thing)?|certainly|of course|absolutely|okay|ok|alright|great|no problem|happy to help)\s*[.!,]\s*"
_ANNOUNCE = (r"(?:here(?:'s| is| are)|below is|the following is|this is)\b[^\n:]{0,80}?"
             r"(?:prompt|instruction|version|rewrite)\w*[^\n:]{0,80}?(?::|\n)\s*")
_LABEL = r"(?:\*\*)?(?:alchemist ?)?prompt(?:\*\*)?\s*:(?:\*\*)?\s*"
_PREAMBLE = re.compile(rf"^(?:{_INTERJECTION})?(?:{_ANNOUNCE}|{_LABEL})|^{_INTERJECTION}", re.I)
# Chatter that does not separate cleanly from the prompt: an answer that talks about a prompt, or
# addresses the requester, instead of being one.
_CHATTY = re.compile(
    r"^(?:sure|certainly|of course|absolutely)\b|^(?:here(?:'s| is| are)|below is)\b[^.!?\n]{0,80}\b(?:prompt|instruction)"
    r"|\b(?:I hope (?:this|that) helps|let me know if|feel free to|I'?ve (?:written|created|crafted)|I have (?:written|created|crafted))\b",
    re.I)


def _without_preamble(text: str) -> str:
    text = text.strip()
    m = _PREAMBLE.match(text)
    if m and text[m.end():].strip():
        text = text[m.end():].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":  # the prompt quoted
        text = text[1:-1].strip()
    return text


def parse_alchemist_prompt(answer: str, sample: Sample, min_words: int, max_words: int) -> tuple[str | None, str | None]:
    """(prompt, None) or (None, reject reason).

    A refusal ("I'm sorry, but I can't...", "As an AI language model...") is `refusal`. A chatty
    lead-in that ends at a colon or a line break ("Sure! Here is the prompt: ...") is cut and the
    rest judged like any prompt: the model did write one, and the cut is exact. Chatter that cannot
    be cut cleanly (an answer that describes a prompt, "I hope this helps") is `preamble`. A prompt
    that repeats one of the template's examples is `copies_example`, one made mostly of the
    request's own words `restates_task`; one that names a programming language other than the
    sample's is `wrong_language`."""
    normalized = answer.replace("\u2019", "'").replace("\u2018", "'")
    if _REFUSAL.search(_tag(normalized, "prompt") or normalized):
        return None, "refusal"
    body = normalized.lstrip()
    if "<prompt>" not in normalized.lower() and body[:1].islower() or body[:1] in (",", ";", "("):
        # a continuation of the pre-filled start ("... code" + " to parse ..."): put the start back. An
        # answer in a new turn (servers that do not continue the turn) starts a sentence of its own.
        start = _prefill(sample)
        normalized = f"{start} {body}" if start else normalized
    if "</prompt>" in normalized.lower() and "<prompt>" not in normalized.lower():
        normalized = "<prompt>" + normalized
    elif "<prompt>" in normalized.lower() and "</prompt>" not in normalized.lower() and "\n\n" not in normalized.strip():
        normalized += "</prompt>"  # stopped at the closing tag, which the stop string removes
    prompt = _tag(normalized, "prompt")
    if _REFUSAL.search(prompt if prompt is not None else normalized):
        return None, "refusal"
    if prompt is None:
        stripped = _without_preamble(normalized)
        if "<prompt>" in stripped.lower() or "\n\n" in stripped or not stripped:
            return None, "missing_tags" if stripped else "empty"
        prompt = stripped  # a bare one-paragraph answer is accepted as the prompt
    prompt = " ".join(_without_preamble(prompt).split())
    if not prompt:
        return None, "empty"
    if _CHATTY.search(prompt):
        return None, "preamble"
    n = len(prompt.split())
    if n < min_words:
        return None, "too_short"
    if n > max_words:
        return None, "too_long"
    if "```" in prompt or any(line in prompt for line in _code_lines(sample.response)):
        return None, "pastes_code"
    if _norm(prompt) in _examples():
        return None, "copies_example"
    if _restates(prompt, sample.instruction):
        return None, "restates_task"
    if _ungrounded(prompt, sample):
        return None, "ungrounded"  # about something the sample never mentions (a small model's made-up task)
    named = languages_named(prompt)
    if sample.language and named and sample.language not in named:
        return None, "wrong_language"  # "Please generate Python code" for a JavaScript answer
    return prompt, None


def with_alchemist_prompt(sample: Sample, prompt: str, meta: dict) -> Sample:
    """The same conversation with the prompt prepended to the first user turn; answers untouched."""
    messages = [dict(m) for m in sample.messages]
    first = next(i for i, m in enumerate(messages) if m["role"] == "user")
    messages[first]["content"] = f"{prompt}\n\n{messages[first]['content']}"
    return Sample(source=sample.source, messages=messages, task="alchemist_prompt", language=sample.language,
                  meta={**meta, "origin": sample.id, "alchemist_prompt": prompt})


# -- instruction evolution (Evol-Instruct operations for code) ---------------------------------

EVOL_OPERATIONS = (
    "Add new constraints and requirements to the original problem.",
    "Replace a commonly used requirement in the problem with a less common and more specific one.",
    "If the original problem can be solved with only a few logical steps, require more reasoning steps.",
    "Provide a piece of erroneous code as a reference to increase misdirection.",
    "Propose higher time or space complexity requirements (do not do this often).",
)


def pick_operation(sample_id: str, seed: int) -> str:
    return random.Random(f"{seed}:evol:{sample_id}").choice(EVOL_OPERATIONS)


def evolution_request(sample: Sample, operation: str) -> list[dict]:
    return load("instruction_evolution").messages(operation=operation, instruction=clip(sample.instruction))


EVOLVED_JOIN = "Additional requirement: the solution must"  # how a continued requirement joins the task


def _continues(answer: str) -> bool:
    """Whether an answer continues a pre-filled sentence ("... must" + " handle empty input.")
    rather than starting one of its own (a model answering in a new turn)."""
    body = answer.lstrip()
    return bool(body) and (body[0].islower() or body[0] in ",;(`'\"")


def _sentence_reject(text: str, sample: Sample | None, min_words: int, max_words: int) -> str | None:
    """The reject reason of one sentence a small model wrote about a sample, or None: a refusal,
    chatter, code, a length outside [min_words, max_words], another language than the sample's."""
    if _REFUSAL.search(text):
        return "refusal"
    if _CHATTY.search(text):
        return "preamble"
    if "```" in text or (sample is not None and any(line in text for line in _code_lines(sample.response))):
        return "pastes_code"
    n = len(text.split())
    if n < min_words:
        return "too_short"
    if n > max_words:
        return "too_long"
    named = languages_named(text)
    if sample is not None and sample.language and named and sample.language not in named:
        return "wrong_language"
    return None


def parse_evolution(answer: str, original: str, sample: Sample | None = None) -> tuple[tuple[str, str] | None, str | None]:
    """((evolved task, explanation), None) or (None, reason). A tagged answer (a model answering in
    a new turn) is taken as written. A continuation of the pre-filled "New requirement: The solution
    must" is one sentence, validated like one (_sentence_reject; `restates_task` when its words are
    the task's own): the evolved task is the original plus that requirement, and the explanation
    says exactly that (a 135M model does not write a second part worth keeping)."""
    evolved, explanation = _tag(answer, "evolved"), _tag(answer, "explanation")
    if evolved is None and _continues(answer):
        requirement = " ".join(answer.split()).rstrip()
        why = _sentence_reject(requirement, sample, 4, 40)
        if why:
            return None, why
        if _restates(f"must {requirement}", original):
            return None, "restates_task"
        requirement = requirement if requirement.endswith((".", "!", ")")) else requirement + "."
        evolved = f"{original.rstrip()}\n\n{EVOLVED_JOIN} {requirement}"
        explanation = (f"Version 2 is version 1 with one more requirement: the solution must {requirement} A solution to "
                       "version 1 does not have to meet it, so version 2 asks for more.")
    if not evolved or not explanation:
        return None, "missing_tags"
    if " ".join(evolved.split()) == " ".join(original.split()):
        return None, "unchanged"
    if len(evolved) > 4 * len(original) + 2000:
        return None, "too_long"
    return (evolved, explanation), None


def compare_task(original: Sample, evolved: str, explanation: str, meta: dict) -> Sample:
    messages = load("instruction_compare_task").messages(original=original.instruction, evolved=evolved, explanation=explanation)
    return Sample(source=original.source, messages=messages, task="instruction_evolution", language=original.language,
                  meta={**meta, "origin": original.id})


def evol_answer_request(evolved: str) -> list[dict]:
    return load("evol_answer").messages(instruction=evolved)


# -- data filtering (multiple choice from rejection reasons, no LLM) --------------------------

FILTER_LETTERS = {
    "empty_response": "A", "short_response": "A",
    "python_syntax_error": "B",
    "no_code": "C",
    "garbled_text": "D",
}


def _syntax_error(response: str) -> str:
    import ast
    import textwrap

    for lang, code in extract_code_blocks(response):
        if lang == "python" and not python_parses(code):
            try:
                ast.parse(textwrap.dedent(code))
            except SyntaxError as e:
                return f"{e.msg} (line {e.lineno} of the code)"
            except (ValueError, RecursionError, MemoryError) as e:  # NUL bytes, deep nesting
                return f"the Python code does not parse ({type(e).__name__})"
    return "the Python code does not parse"


def filtering_explanation(reason: str, response: str) -> str:
    letter = FILTER_LETTERS[reason]
    if letter == "A":
        n = len(response.strip())
        return f"The response is too short: {n} characters cannot answer the request."
    if letter == "B":
        return f"The code does not compile: {_syntax_error(response)}."
    if letter == "C":
        return "The response describes an answer in prose but contains no code that implements it."
    return "The response contains garbled characters (decoding errors or control characters), so it cannot be used as written."


def filtering_task(sample: Sample, reason: str, meta: dict) -> Sample:
    letter = FILTER_LETTERS[reason]
    messages = load("data_filtering").messages(instruction=clip(sample.instruction, 3000), response=clip(sample.response, 3000),
                                               letter=letter, explanation=filtering_explanation(reason, sample.response))
    return Sample(source=sample.source, messages=messages, task="data_filtering", language=sample.language,
                  meta={**meta, "origin": sample.id, "reason": reason, "answer": letter})


# -- code review ------------------------------------------------------------------------------

@dataclass(slots=True)
class Review:
    correctness: int | None  # None: a one-suggestion review (a small model's), no scores or refined code
    clarity: int | None
    suggestions: list[str]
    code: str | None
    language: str


def review_request(sample: Sample) -> list[dict]:
    return load("code_review").messages(instruction=clip(sample.instruction), response=clip(sample.response),
                                        language=language_name(sample.language))


# A suggestion says what to do; a verdict on the code ("The code is clean") is not one.
_ADVICE = re.compile(r"\b(?:use|add|replace|rename|remove|avoid|handle|check|consider|should|could|instead|extract|split|"
                     r"move|validate|raise|document|cache|prefer|make|store|sort|reuse|simplify|guard|limit)\b", re.I)
_SCORE = r"{}\s*[:=]\s*\**\s*(\d+)(?:\s*/\s*10)?"


def parse_review(answer: str, language: str | None, sample: Sample | None = None) -> tuple[Review | None, str | None]:
    """(Review, None) or (None, reason). A continuation of the pre-filled "Suggestion:" is one
    suggestion, validated as one sentence about the sample (_sentence_reject); a full review
    (scores, suggestions, refined code) is parsed as written."""
    if not re.search(r"correctness", answer, re.I) and answer.strip() and "\n" not in answer.strip():
        suggestion = re.sub(r"^(?:\**suggestion\**\s*:\s*)?(?:[-*]\s*)?", "", " ".join(answer.split()), flags=re.I)
        if len(suggestion) >= 2 and suggestion[0] == suggestion[-1] == '"':
            suggestion = suggestion[1:-1].strip()
        why = _sentence_reject(suggestion, sample, 5, 40)
        if why:
            return None, why
        if not _ADVICE.search(suggestion):
            return None, "not_a_suggestion"  # "The code is very clean and easy to read."
        return Review(None, None, [suggestion], None, language or ""), None
    correctness = re.search(_SCORE.format("correctness"), answer, re.I)
    clarity = re.search(_SCORE.format("clarity"), answer, re.I)
    if not correctness or not clarity:
        return None, "missing_scores"
    scores = int(correctness.group(1)), int(clarity.group(1))
    if not all(0 <= s <= 10 for s in scores):
        return None, "score_out_of_range"
    part = re.search(r"suggestions\s*:?\s*\**\s*\n(.*?)(?:\n\s*\**\s*(?:\d+\.\s*)?refined code|\Z)", answer, re.I | re.S)
    suggestions = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip()
                   for line in (part.group(1).splitlines() if part else []) if line.strip()]
    suggestions = [s for s in suggestions if s]
    if not suggestions:
        return None, "no_suggestions"
    after = re.split(r"refined code\s*:?", answer, flags=re.I)
    blocks = extract_code_blocks(after[-1]) if len(after) > 1 else []
    if not blocks:
        return None, "no_refined_code"
    lang, code = blocks[0]
    lang = lang or language or ""
    if lang == "python" and not python_parses(code):
        return None, "refined_code_syntax"
    return Review(scores[0], scores[1], suggestions[:8], code.rstrip("\n"), lang), None


def review_task(sample: Sample, review: Review, meta: dict) -> Sample:
    if review.correctness is None:
        asks, answer = "one concrete suggestion to improve the code", f"Suggestion: {review.suggestions[0]}"
    else:
        asks = "1. a correctness score and 2. a clarity score (0-10 each), 3. suggestions, and 4. refined code"
        answer = (f"1. Correctness: {review.correctness}/10\n2. Clarity: {review.clarity}/10\n3. Suggestions:\n"
                  + "\n".join(f"- {s}" for s in review.suggestions)
                  + f"\n4. Refined code:\n```{review.language}\n{review.code}\n```")
    messages = load("code_review_task").messages(instruction=clip(sample.instruction), response=clip(sample.response),
                                                 asks=asks, review=answer)
    scores = [review.correctness, review.clarity] if review.correctness is not None else None
    return Sample(source=sample.source, messages=messages, task="code_review", language=sample.language,
                  meta={**meta, "origin": sample.id, "scores": scores})
