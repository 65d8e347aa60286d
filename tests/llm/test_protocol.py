"""Every backend takes what the Backend protocol says, checked on the signatures themselves."""

import inspect
from types import SimpleNamespace

import pytest

from alchemist.llm.hf_backend import HFBackend, HFConfig, finish_reason
from alchemist.llm.openai_backend import OpenAIBackend, OpenAIConfig
from alchemist.llm.types import Backend, ChatResult
from alchemist.llm.vllm_backend import VLLMBackend, VLLMConfig, result_from_output

BACKENDS = [(OpenAIBackend, OpenAIConfig(model="m")), (HFBackend, HFConfig(model="m")), (VLLMBackend, VLLMConfig(model="m"))]
METHODS = ["generate", "preflight", "identity", "close"]


def shape(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("cls, config", BACKENDS, ids=lambda x: getattr(x, "__name__", ""))
def test_backend_signatures_match_the_protocol(cls, config):
    for name in METHODS:
        assert shape(getattr(cls, name)) == shape(getattr(Backend, name)), f"{cls.__name__}.{name}"
    backend = cls(config)  # builds nothing heavy: models load on first use
    assert isinstance(backend, Backend) and isinstance(backend.model_id, str)
    backend.close()
    backend.close()  # twice is fine


def test_hf_finish_reason():
    eos, pad = 2, 0
    assert finish_reason([5, 6, 7, 8], 4, eos, pad) == "length"  # max_new_tokens without EOS
    assert finish_reason([5, 6, eos, pad], 4, eos, pad) == "stop"
    assert finish_reason([5, 6, pad, pad], 4, eos, pad) == "stop"  # ended early (a stop string), batch-padded
    assert finish_reason([5, 6, 7, eos], 4, eos, eos) == "stop"  # pad is EOS
    assert finish_reason([5, 6, 7], 4, eos, pad) == "stop"


def test_vllm_finish_reason_is_vllms_own():
    out = SimpleNamespace(prompt_token_ids=[1, 2, 3], outputs=[
        SimpleNamespace(text="cut", finish_reason="length", token_ids=[4, 5]),
        SimpleNamespace(text="done", finish_reason="stop", token_ids=[6]),
        SimpleNamespace(text="?", finish_reason=None, token_ids=[])])
    r = result_from_output(out)
    assert isinstance(r, ChatResult) and r.finish_reasons == ["length", "stop", ""] and r.truncated
    assert (r.prompt_tokens, r.completion_tokens) == (3, 3)
