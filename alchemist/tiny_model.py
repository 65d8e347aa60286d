"""A tiny causal LM built offline in seconds: a byte-level BPE tokenizer trained on local text,
a ChatML chat template, and a 2-layer Llama with random weights. It exercises every code path of
generation and training on a CPU; its words are noise."""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] }}<|im_end|>{% endgeneration %}"
    "{% else %}{{ message['content'] }}<|im_end|>{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]


# The tokenizer ships as a file: trained once (`python -m alchemist.tiny_model`) on this package's
# own sources, it must not change when those sources do, or two runs of the same recipe on two
# checkouts would train different models.
TOKENIZER_FILE = Path(__file__).resolve().parent / "tiny_tokenizer.json"


def _corpus() -> list[str]:
    """Text to learn merges from: this package's own sources and prompt files."""
    root = Path(__file__).resolve().parent
    files = sorted(root.rglob("*.py")) + sorted(root.rglob("*.txt"))
    return [f.read_text(encoding="utf-8", errors="ignore") for f in files]


def train_tokenizer(vocab_size: int = 2048):
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(_corpus(), vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL, show_progress=False)
    return bpe


def build_tiny_model(out_dir: str | Path, vocab_size: int = 2048, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """Write a tokenizer + model loadable by AutoTokenizer/AutoModelForCausalLM to out_dir."""
    import torch
    from tokenizers import Tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(out_dir)
    if (out / "config.json").is_file() and (out / "tokenizer.json").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer.from_file(str(TOKENIZER_FILE)) if vocab_size == 2048 and TOKENIZER_FILE.is_file() else train_tokenizer(vocab_size)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|im_end|>",
                                  pad_token="<pad>", unk_token="<|endoftext|>")
    tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 4, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                         tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    tmp = out.with_name(out.name + ".partial")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    for f in tmp.iterdir():
        f.replace(out / f.name)
    tmp.rmdir()
    return out


if __name__ == "__main__":
    train_tokenizer().save(str(TOKENIZER_FILE))
    print(f"wrote {TOKENIZER_FILE}")
