"""Benchmark decontamination: word n-gram overlap here, plus the structure signal
(rules/structure.py), the embedding signal (rules/embed.py) and an optional LLM judge
(rules/judge.py) behind one decision (`Decontaminator`, built by `build_index`).

`contamination(sample, index)` is the one check every stage applies to a sample (curate to every
ingested sample, relabel to what the LLM produced): every turn, system and user and assistant,
is matched, and a contaminated sample is dropped whatever else is wrong with it.

Peers mostly test exact substrings, which misses a renamed function or a reworded docstring.
Here every benchmark problem is split into fields (prompt, reference solution, tests, and its
code without docstrings) and each field into word n-grams; a sample is contaminated by a problem
when it contains at least `min_overlap` of one field's n-grams. Words are lower-cased runs of
letters, digits and `_`, so whitespace, indentation and punctuation changes do not matter, and an
edit only breaks the n-grams that span it. Prompt and code fields shorter than n words (MBPP's one-sentence prompts) are indexed by
their MIN_SHORT_FIELD-grams and match only when all of them are found; shorter solutions and
tests are common idioms (`return sorted(set(l))`) and are not indexed.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from alchemist.code import extract_code_blocks
from alchemist.rules.embed import Embedder
from alchemist.rules.evidence import (
    FEATURES,
    Calibration,
    arities,
    code_text,
    comments,
    features,
    literals,
    name_words,
    prose_words,
    rare_overlap,
    rarity,
    shared_literals,
    specificity,
    statement_text,
)
from alchemist.rules.hashing import DOCSTRING_RE, sample_text, window_hashes, word_hashes
from alchemist.rules.judge import Judge
from alchemist.rules.structure import StructureIndex, as_text, stream
from alchemist.schema import Problem

MAX_MATCHES = 5  # matches kept in a verdict's detail (and listed in report.md)
MIN_SHORT_FIELD = 8
FIELDS = ("prompt", "solution", "tests", "code")
_FILTER_BITS = 22  # a bitmap over hash bits screens n-grams before the dict lookup


@dataclass(slots=True)
class Hit:
    task_id: str
    field: str
    overlap: float


class NgramIndex:
    """Inverted index from hashed word n-grams to the benchmark fields that hold them."""

    def __init__(self, problems: list[Problem], n: int = 13, min_overlap: float = 0.2):
        self.n = n
        self.min_overlap = min_overlap
        self.fields: list[tuple[str, str, int]] = []  # (task_id, field, number of distinct n-grams)
        index: dict[int, list[int]] = defaultdict(list)
        lengths = {n}
        self.full_cover: set[int] = set()  # short fields: every one of their n-grams must match
        for problem in problems:
            views = {"prompt": problem.prompt, "solution": problem.solution, "tests": problem.tests,
                     "code": DOCSTRING_RE.sub(" ", problem.prompt) + "\n" + problem.solution if problem.solution else ""}
            for field in FIELDS:
                ids = word_hashes(views[field])
                if len(ids) >= n:
                    grams = set(window_hashes(ids, [n]).tolist())
                elif len(ids) >= MIN_SHORT_FIELD and field in ("prompt", "code"):
                    grams = set(window_hashes(ids, [MIN_SHORT_FIELD]).tolist())
                    lengths.add(MIN_SHORT_FIELD)
                    self.full_cover.add(len(self.fields))
                else:
                    continue
                fid = len(self.fields)
                self.fields.append((problem.task_id, field, len(grams)))
                for g in grams:
                    index[g].append(fid)
        self.lengths = sorted(lengths)
        self.index = dict(index)
        self.mask = np.uint64((1 << _FILTER_BITS) - 1)
        self.bitmap = np.zeros(1 << _FILTER_BITS, dtype=bool)
        self.bitmap[np.array(list(self.index), dtype=np.uint64) & self.mask] = True

    def hits(self, text: str) -> list[Hit]:
        """Benchmark fields that `text` overlaps by at least min_overlap, best first."""
        if not self.index:
            return []
        if "\"\"\"" in text or "\'\'\'" in text:
            ids, in_docstring = word_hashes(text, docstrings=True)
            grams = np.concatenate([window_hashes(ids, self.lengths), window_hashes(ids[~in_docstring], self.lengths)])
        else:
            grams = window_hashes(word_hashes(text), self.lengths)
        if not len(grams):
            return []
        candidates = grams[self.bitmap[grams & self.mask]]
        if not len(candidates):
            return []
        index = self.index
        counts: dict[int, int] = defaultdict(int)
        for g in set(candidates.tolist()):
            for fid in index.get(g, ()):
                counts[fid] += 1
        out = []
        for fid, c in counts.items():
            task_id, field, total = self.fields[fid]
            if c / total >= (1.0 if fid in self.full_cover else self.min_overlap):
                out.append(Hit(task_id, field, round(c / total, 3)))
        return sorted(out, key=lambda h: -h.overlap)


def contamination(sample, index) -> dict | None:
    """The benchmark problems a sample (anything with `.messages`) overlaps, as a verdict detail
    `{"matches": [{"task_id", "field", "overlap"}, ...]}` (best first, at most MAX_MATCHES), or
    None when it is clean or there is no index. With a `Decontaminator` (every signal) each match
    also names its `signal` (ngram; calibrated, whose `overlap` is the decision's probability and
    whose `scores` are every signal's score for that problem; structure when it decides alone;
    judge) and the detail carries `scores`, every signal's best score. All turns are matched as one text (system, every
    user and every assistant turn), so a leak in an earlier answer is caught too."""
    if index is None:
        return None
    if not isinstance(index, NgramIndex):  # every signal (build_index)
        return index.check([sample])[0][0]
    hits = index.hits(sample_text(sample.messages))
    if not hits:
        return None
    return {"matches": [{"task_id": h.task_id, "field": h.field, "overlap": h.overlap} for h in hits[:MAX_MATCHES]]}


# --------------------------------------------------------------------------- all signals
# The paper decontaminates with three signals: n-gram similarity (above), syntax/structure
# similarity (rules/structure.py) and code-embedding similarity (rules/embed.py). Here, with
# the embedding signal on (the default), they decide together: an n-gram hit is a copy and
# decides alone; every other candidate (sample, benchmark problem) gets one calibrated
# probability from every signal's score (rules/evidence.py), and is contaminated when it
# reaches the calibration's threshold. A candidate within `judge.margin` under it is doubtful:
# an LLM judge, when the recipe names one, decides it (rules/judge.py), else it is kept and
# reported as a near miss. With the embedding signal off, the structure signal decides alone by
# its threshold (the calibration needs the embedding scores).

_PROSE_DOCSTRING = re.compile(r'("""|\'\'\')([\s\S]*?)\1')
_FENCED = re.compile(r"^[ \t]*(```+|~~~+)[^\n]*\n.*?^[ \t]*\1[ \t]*$", re.M | re.S)
TOP_K = 3  # benchmark problems per sample scored by the decision: the nearest by statement, and by code
CODE_TOKENS = 128  # of a sample's code (as words) for the code embedding
# of a sample's statement (instruction and the prose of its code): its first sentences say the task.
# 48 tokens give the labeled set the same verdicts as 64 (and 128) at three quarters of the cost;
# 32 lose held-out recall (0.89)
STATEMENT_TOKENS = 48
CODE_GATE = 0.5  # statement similarity from which a sample's code is embedded too (the rest is far from every problem)
# The most a sample's code embedding can lead the next-best problem's, for the bound that skips it:
# at most 0.36 was seen on the labeled set and on benchmarks/corpus.py's corpus
CODE_MARGIN_REACH = 0.6


_CODE, _CODE_MARGIN = FEATURES.index("code"), FEATURES.index("code_margin")


def _logit(p: float) -> float:
    return math.log(p / (1 - p)) if 0 < p < 1 else (-math.inf if p <= 0 else math.inf)


def _margins(row: np.ndarray) -> np.ndarray:
    """Each problem's score less the best score of any *other* problem."""
    if len(row) < 2:
        return row.astype(np.float64)
    second, best = np.sort(row)[-2:]
    return row.astype(np.float64) - np.where(row >= best, second, best)


def problem_statement(problem: Problem) -> str:
    """The prose of a benchmark problem: HumanEval's docstring up to its examples, MBPP's sentence."""
    m = _PROSE_DOCSTRING.search(problem.prompt)
    if not m:
        return problem.prompt.strip()
    lines = []
    for line in m.group(2).splitlines():
        s = line.strip()
        if s.startswith(">>>") or re.match(r"^(For example|Example|Examples|for example)\b", s):
            break
        lines.append(s)
    return " ".join(x for x in lines if x) or problem.prompt.strip()


def problem_code(problem: Problem) -> str:
    """A problem's signature and reference solution, docstring dropped."""
    return DOCSTRING_RE.sub(" ", problem.prompt) + "\n" + problem.solution


def sample_statement(messages: list[dict]) -> str:
    """What a sample asks, for the embedding signal: its system and user turns without fenced code."""
    return "\n".join(_FENCED.sub(" ", m["content"]) for m in messages if m["role"] != "assistant").strip()


def sample_code(messages: list[dict]) -> str:
    """Every piece of code in a sample's turns (fenced blocks, or bare code), for the structure signal."""

    return "\n".join(code for m in messages for _, code in extract_code_blocks(m["content"]))


@dataclass(slots=True)
class Candidate:
    """One (sample, benchmark problem) pair the decision scored."""

    task_id: str
    scores: dict  # statement, code, structure, literals, name, rare_words, arity: every signal's score for this pair
    x: list  # the decision's inputs (evidence.FEATURES)


class Decontaminator:
    """Every enabled signal over one set of benchmark problems. `check` gives each sample's verdict
    detail (or None) and its near misses; samples are checked in batches so that the full
    embedding model sees only the shortlist, in batches."""

    def __init__(self, problems: list[Problem], spec, judge=None, calibration=None):
        self.spec = spec
        self.ngram = NgramIndex(problems, spec.ngram, spec.min_overlap)
        self.by_id = {p.task_id: p for p in problems}
        self.structure = None
        self.embedder = None
        self.judge = judge
        margin = spec.judge.margin
        if spec.structure.enabled:
            st = spec.structure
            self.structure = StructureIndex(problems, min_shared=st.min_shared, min_tokens=st.min_tokens)
            self.structure_floor = max(0.0, st.threshold - margin)
        if spec.embedding.enabled:
            em = spec.embedding
            self.calibration = calibration or Calibration.load()
            self.task_ids = [p.task_id for p in problems]
            self.embedder = Embedder([problem_statement(p) for p in problems], em.model, em.batch_size)
            # the benchmark side of the decision, once: the whole docstring as a second statement
            # view, the code as words, the token streams, literals and names
            docs = [comments(p.prompt) or p.prompt for p in problems]
            self.problems_doc = self.embedder.benchmark_side(docs, 160)
            self.problems_doc_static = self.embedder.static(docs)
            self.problems_code = self.embedder.benchmark_side([code_text(problem_code(p)) for p in problems], CODE_TOKENS)
            streams = [stream(problem_code(p)) for p in problems]
            self.problem_streams = [as_text(s) for s in streams]
            self.problem_spec = [specificity(len(s)) for s in streams]
            self.problem_literals = [literals(p.prompt + "\n" + p.tests) for p in problems]
            self.problem_names = [name_words(p.entry_point or "") for p in problems]
            self.problem_words = [prose_words(d) for d in docs]
            self.idf = rarity(self.problem_words)
            self.problem_arity = [arities(p.prompt) for p in problems]
            self.row = {t: j for j, t in enumerate(self.task_ids)}
            self.floor = max(0.0, self.calibration.threshold - margin)
            w = self.calibration.weights
            self.code_reach = abs(w[_CODE]) + CODE_MARGIN_REACH * abs(w[_CODE_MARGIN])

    def check(self, samples: list) -> list[tuple[dict | None, list[dict]]]:
        """(detail, near_misses) per sample: detail is {"matches": [...], "scores": {...}} when
        contaminated, else None; near misses are the candidates within the margin under a threshold."""
        spec = self.spec
        found: list[list[dict]] = []
        scores: list[dict] = []
        doubtful: list[list[dict]] = []
        for s in samples:
            hits = self.ngram.hits(sample_text(s.messages))
            found.append([{"task_id": h.task_id, "field": h.field, "overlap": h.overlap, "signal": "ngram"} for h in hits])
            scores.append({"ngram": hits[0].overlap if hits else 0.0})
            doubtful.append([])
        codes = [sample_code(s.messages) for s in samples]
        structure_hits: list[dict] = [{} for _ in samples]
        if self.structure is not None:
            t = spec.structure.threshold
            for i, code in enumerate(codes):
                hits = self.structure.hits(code, self.structure_floor if self.embedder is None else 0.0) if code else []
                scores[i]["structure"] = hits[0].score if hits else 0.0
                structure_hits[i] = {h.task_id: h.score for h in hits}
                if self.embedder is None:  # the structure signal decides alone
                    for h in hits:
                        m = {"task_id": h.task_id, "field": "structure", "overlap": h.score, "signal": "structure"}
                        (found[i] if h.score >= t else doubtful[i]).append(m)
        if self.embedder is not None:
            for i, cands in enumerate(self.candidates(samples, codes, structure_hits, found, scores)):
                for c in cands:
                    p = self.calibration.probability(c.x)
                    scores[i]["probability"] = max(scores[i].get("probability", 0.0), round(p, 3))
                    if p < self.floor:
                        continue
                    m = {"task_id": c.task_id, "field": "calibrated", "overlap": round(p, 3), "signal": "calibrated",
                         "scores": c.scores}
                    (found[i] if p >= self.calibration.threshold else doubtful[i]).append(m)
        if self.judge is not None:
            self.judge.decide(samples, found, doubtful, self.by_id)
        out = []
        for f, sc, d in zip(found, scores, doubtful):
            if f:
                best = {}
                for m in sorted(f, key=lambda m: -m["overlap"]):
                    best.setdefault((m["task_id"], m["signal"]), m)
                matches = sorted(best.values(), key=lambda m: -m["overlap"])[:MAX_MATCHES]
                out.append(({"matches": matches, "scores": sc}, []))
            else:
                out.append((None, sorted(d, key=lambda m: -m["overlap"])[:MAX_MATCHES]))
        return out

    def candidates(self, samples, codes, structure_hits, found=None, scores=None) -> list[list[Candidate]]:
        """The benchmark problems each sample is scored against, with the decision's inputs: the
        TOP_K nearest by statement and by code, and the structure signal's shortlist. Only samples
        whose static embedding (of the instruction, or of the code's prose) reaches
        `embedding.shortlist`, or whose structure score comes within the judge's margin of its
        threshold, are embedded by the full model (the rest is most of a corpus); samples an
        n-gram hit already decided are skipped."""
        em = self.spec.embedding
        emb = self.embedder
        n = len(samples)
        found = found or [[] for _ in range(n)]
        scores = scores if scores is not None else [{} for _ in range(n)]
        asked = [sample_statement(s.messages) for s in samples]
        prose = [comments(c) if c else "" for c in codes]  # once: the statement and the shortlist read it
        statements = [statement_text(a, c, p) for a, c, p in zip(asked, codes, prose)]
        todo = [i for i in range(n) if not found[i] and (statements[i] or structure_hits[i])]
        out: list[list[Candidate]] = [[] for _ in range(n)]
        if not todo:
            return out
        # the static shortlist: the instruction, and apart from it the prose of the code, each after
        # removing the common direction of its kind of text (embed.reference_texts, reference_docstrings)
        static = np.full(n, -1.0)
        for part, center in ((lambda i: statement_text(asked[i], ""), None), (lambda i: prose[i],
                                                                             emb.comment_center)):
            texts = {i: part(i) for i in todo}
            rows = [i for i in todo if texts[i]]
            if rows:
                v = emb.centered(emb.static([texts[i] for i in rows]), center)
                best = np.maximum((v @ emb.centered(emb.problems_static, center).T).max(axis=1),
                                  (v @ emb.centered(self.problems_doc_static, center).T).max(axis=1))
                static[rows] = np.maximum(static[rows], best)
        for i in todo:
            if static[i] > -1:
                scores[i]["embedding_static"] = round(float(static[i]), 3)
        floor = self.spec.structure.threshold - self.spec.judge.margin
        picked = [i for i in todo if static[i] >= em.shortlist or max(structure_hits[i].values(), default=0) >= floor]
        if not picked:
            return out
        said = [i for i in picked if statements[i]]
        sim_s = np.zeros((n, len(self.task_ids)), dtype=np.float32)
        if said:
            v = emb.full([statements[i] for i in said], STATEMENT_TOKENS)
            sim_s[said] = np.maximum(v @ emb.problems_full.T, v @ self.problems_doc.T)
        # every other input of the decision, for every problem at once (set operations and one C
        # alignment per problem: cheap next to the full model)
        inputs = {i: self._inputs(samples[i], codes[i], statements[i], structure_hits[i], sim_s[i]) for i in picked}
        # the code embedding for samples whose statement comes near a problem, or that have none,
        # and only where it could matter: the code's two inputs raise a candidate's logit by at most
        # `code_reach` (a cosine is at most 1, its lead over the next problem at most
        # CODE_MARGIN_REACH), so a sample none of whose problems could reach the floor with them is
        # decided without it: the same verdicts and near misses, and ~9 in 10 code embeddings saved
        low = _logit(self.floor) - self.code_reach
        coded = [i for i in picked if codes[i] and (not statements[i] or sim_s[i].max() >= CODE_GATE)
                 and self.calibration.logits(inputs[i]).max() >= low]
        sim_c = np.zeros((n, len(self.task_ids)), dtype=np.float32)
        if coded:
            sim_c[coded] = emb.full([code_text(codes[i]) for i in coded], CODE_TOKENS) @ self.problems_code.T
        for i in picked:
            s_row, c_row = sim_s[i], sim_c[i]
            rows = set(np.argsort(-s_row)[:TOP_K].tolist()) if statements[i] else set()
            x = inputs[i]
            if c_row.any():
                rows |= set(np.argsort(-c_row)[:TOP_K].tolist())
                x[:, _CODE], x[:, _CODE_MARGIN] = c_row, _margins(c_row)
            rows |= {self.row[t] for t in structure_hits[i] if t in self.row}
            scores[i]["embedding"] = round(float(s_row.max(initial=0)), 3)
            scores[i]["code"] = round(float(c_row.max(initial=0)), 3)
            for j in sorted(rows):
                row = x[j].tolist()
                st, cd, structure, shared, name, rare, same = (row[k] for k in (0, 1, 4, 5, 8, 9, 10))
                out[i].append(Candidate(self.task_ids[j], {"statement": round(st, 3), "code": round(cd, 3),
                                                           "structure": round(structure, 3), "literals": round(shared, 3),
                                                           "name": name, "rare_words": round(rare, 3), "arity": same}, row))
        return out

    def _inputs(self, sample, code: str, statement: str, structure_hits: dict, s_row: np.ndarray) -> np.ndarray:
        """The decision's inputs (evidence.FEATURES) of one sample against every problem, the code
        embedding's two left at 0."""
        from rapidfuzz import fuzz, process

        text = as_text(stream(code)) if code else ""
        structure = np.zeros(len(self.task_ids))
        if text:
            structure = process.cdist([text], self.problem_streams, scorer=fuzz.ratio, dtype=np.float64)[0] / 100
        for t, score in structure_hits.items():  # the structure signal's own score (its best-aligned window)
            if t in self.row:
                structure[self.row[t]] = score
        lits = literals(sample.messages[-1]["content"] + "\n" + sample_statement(sample.messages))
        names = name_words(code)
        words = prose_words(statement)
        arity = arities(code) if code else frozenset()
        return np.array([features(float(st), 0.0, float(sm), 0.0, float(structure[j]),
                                  shared_literals(lits, self.problem_literals[j]), self.problem_spec[j],
                                  float(bool(self.problem_names[j]) and self.problem_names[j] <= names),
                                  rare_overlap(words, self.problem_words[j], self.idf),
                                  # a function with as many parameters as one of the problem's
                                  float(bool(self.problem_arity[j] & arity)))
                         for j, (st, sm) in enumerate(zip(s_row.tolist(), _margins(s_row).tolist()))])


def build_index(problems: list[Problem], spec, client=None) -> NgramIndex | Decontaminator | None:
    """The decontamination index a recipe's `curate.decontaminate` asks for: None without problems,
    the n-gram index alone when the other signals are off (the fast path of old), else every
    signal. `client`: an LLMClient for the judge (when `judge.llm` is set)."""
    if not spec.enabled or not problems:
        return None
    if not spec.structure.enabled and not spec.embedding.enabled:
        return NgramIndex(problems, spec.ngram, spec.min_overlap)
    judge = None
    if client is not None:
        judge = Judge(client, spec.judge)
    return Decontaminator(problems, spec, judge)


def contamination_batch(samples: list, index) -> list[tuple[dict | None, list[dict]]]:
    """(detail, near misses) for each sample, with any index `build_index` returns."""
    if index is None:
        return [(None, [])] * len(samples)
    if isinstance(index, NgramIndex):
        return [(contamination(s, index), []) for s in samples]
    return index.check(samples)
