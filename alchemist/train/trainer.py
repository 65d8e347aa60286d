"""Fine-tune a causal LM on train.parquet: the whole train stage as one function.

    train(spec, data_path, out, work, seed, say) -> stats

Reads top to bottom, each step a function below it: check everything a user can get wrong
(before any compute) -> tokenize (cached) -> load the model -> TRL's SFTTrainer (BFD padding-free
packing, labels we built, accumulation-normalized loss, DeepSpeed) -> resume from the last
complete checkpoint in `work` -> write a Hugging Face model dir to `out` that loads as it is, with
its chat template and a generation config that stops on the end-of-turn token. The trainer's
arguments come from `sft_arguments`, a pure function of the spec, tested without a model.

trl (about a second to import) is imported where the trainer is built, so the stage's
fingerprint and preflight checks, which import this module, never wait on it.

Under a launcher (torchrun, deepspeed) every rank calls this; rank 0 tokenizes and writes `out`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, set_seed

from alchemist import training
from alchemist.errors import UserError
from alchemist.llm import builtin
from alchemist.tiny_model import build_tiny_model
from alchemist.train import data as tokdata
from alchemist.train import deepspeed as ds
from alchemist.train import metrics, varlen
from alchemist.train.mask import check_pair, mask_record
from alchemist.train.neftune import NEFTune
from alchemist.train.spec import TrainSpec
from alchemist.train.templates import TRAINING_TEMPLATE_FILE, apply_format, plain_template
from alchemist.training import BUILTIN_TINY, HUB_ID, last_checkpoint, model_path, rank, world_size

CHECKPOINTS = "checkpoints"


@dataclass(frozen=True)
class Device:
    kind: str  # "cuda" or "cpu"
    bf16: bool
    attn: str
    name: str


def model_source(spec: TrainSpec, work: Path) -> str:
    """A local directory or hub id for `spec.model`; `builtin:tiny` is built into `work` once."""
    if spec.model == BUILTIN_TINY:
        where = work / "builtin-tiny"
        if rank() == 0:
            build_tiny_model(where)
        else:
            _wait_for(where / "tokenizer.json", "the built-in tiny model")
        return str(where)
    if builtin.is_builtin(spec.model):  # a real model shipped in a package, converted into the cache once
        return str(builtin.resolve(spec.model))
    return model_path(spec.model, "train.model", "a local Hugging Face model directory, a hub id, builtin:tiny or "
                      "builtin:smollm2-135m-instruct")


def local_model_files(spec: TrainSpec) -> list[Path]:
    """The files of a local base model that decide the result (for the stage fingerprint)."""
    return training.local_model_files(spec.model)


def preflight(spec: TrainSpec) -> None:
    """The checks that need no model download and no data: run before any stage computes."""
    pick_device(spec)
    if builtin.is_builtin(spec.model):
        builtin.check(spec.model)
    elif spec.model != BUILTIN_TINY:
        path = Path(spec.model).expanduser()
        if not path.is_dir() and (path.exists() or not HUB_ID.match(spec.model)):
            model_source(spec, Path("."))  # raises the one-line error
    ds.config(spec.deepspeed.stage, spec.deepspeed.offload, spec.deepspeed.config)


def pick_device(spec: TrainSpec) -> Device:
    """GPU or CPU, bf16 or not, which attention kernel; a demand the machine cannot meet is an error."""
    cuda = torch.cuda.is_available()
    name = torch.cuda.get_device_name(0) if cuda else "cpu"
    bf16_ok = cuda and torch.cuda.is_bf16_supported()
    if spec.bf16 is True and not bf16_ok:
        raise UserError(f"train.bf16: true needs a GPU with bfloat16 support, and this machine has {name}; "
                        "set train.bf16 to auto or false")
    bf16 = bf16_ok if spec.bf16 == "auto" else bool(spec.bf16)
    has_flash = _installed("flash_attn")
    attn = spec.attn_implementation
    if attn == "flash_attention_2":
        if not cuda:
            raise UserError("train.attn_implementation: flash_attention_2 needs a CUDA GPU; "
                            "set it to auto or sdpa")
        if not has_flash:
            raise UserError("train.attn_implementation: flash_attention_2 needs flash-attn "
                            "(pip install flash-attn --no-build-isolation); or set it to auto or sdpa")
    elif attn == "auto":
        # without flash-attention, packed rows go through per-sample SDPA (alchemist.train.varlen):
        # same result as sdpa, without its row x row mask
        attn = "flash_attention_2" if cuda and has_flash else "sdpa_varlen" if spec.packing else "sdpa"
    if spec.liger and not (cuda and _installed("liger_kernel")):
        raise UserError("train.liger: Liger kernels need a CUDA GPU and liger-kernel (pip install liger-kernel); "
                        "or set train.liger: false")
    if "wandb" in spec.report_to and not _installed("wandb"):
        raise UserError("train.report_to: wandb is not installed (pip install wandb); or remove it from train.report_to")
    return Device("cuda" if cuda else "cpu", bf16, attn, name)


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _wait_for(path: Path, what: str, timeout: float = 6 * 3600) -> None:
    # ranks other than 0 wait on a file rank 0 writes atomically: no process group is needed yet
    # (ZeRO-3 wants the model loaded before the trainer sets one up)
    start = time.monotonic()
    while not path.exists():
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"rank {rank()}: gave up waiting for {what} ({path})")
        time.sleep(0.5)


def _load_model(source: str, spec: TrainSpec, device: Device, say: Callable[[str], None]):
    # With DeepSpeed the engine keeps fp32 master weights, so bf16 weights are enough; without
    # it, fp32 weights under bf16 autocast keep the optimizer exact.
    dtype = torch.bfloat16 if device.bf16 and (spec.deepspeed.stage > 0 or spec.method == "lora") else torch.float32
    attn = device.attn
    if attn == "sdpa_varlen":
        varlen.register()
    try:
        model = AutoModelForCausalLM.from_pretrained(source, revision=spec.revision, dtype=dtype,
                                                     attn_implementation=attn)
    except (ValueError, ImportError) as e:
        if attn not in ("sdpa", "sdpa_varlen"):
            raise
        say(f"attention: {attn} is not supported by this model ({str(e).splitlines()[0][:80]}); using eager")
        attn = "eager"
        model = AutoModelForCausalLM.from_pretrained(source, revision=spec.revision, dtype=dtype,
                                                     attn_implementation=attn)
    # a cache makes packed samples attend to each other (ENVIRONMENT.md); training never needs it
    model.config.use_cache = False
    return model, attn


def _apply_lora(model, spec: TrainSpec, new_token_ids: list[int]):
    from peft import LoraConfig, get_peft_model  # only a LoRA run needs peft's model classes

    cfg = LoraConfig(r=spec.lora.r, lora_alpha=spec.lora.alpha, lora_dropout=spec.lora.dropout,
                     target_modules=spec.lora.target_modules, task_type="CAUSAL_LM",
                     # the rows of tokens the template added (e.g. <|EOT|> on a base model) start
                     # untrained: train those rows, not the whole embedding
                     trainable_token_indices=new_token_ids or None)
    return get_peft_model(model, cfg)


@dataclass(frozen=True)
class Batch:
    """How one optimizer step's rows split: micro batch x accumulation x processes."""

    micro: int
    accum: int
    world: int
    deepspeed: dict | None  # the generated DeepSpeed config; None: plain DDP
    cpu_ranks: bool  # DeepSpeed across CPU processes: its distributed state is set up before the arguments

    @property
    def rows(self) -> int:
        return self.micro * self.accum * self.world


@dataclass(frozen=True)
class Model:
    model: object
    attn: str  # the kernel it loaded with: eager where the model does not support the one picked
    params: int  # all of the base model's
    trained: int  # those with a gradient (LoRA: the adapters and any new token rows)


@dataclass(frozen=True)
class Speed:
    flops_per_token: float
    peak: float | None  # one device's peak TFLOPS, for MFU
    peak_name: str


@dataclass(frozen=True)
class Resume:
    """The last whole checkpoint in the work directory (None: a fresh start) and where it stopped."""

    path: Path | None
    step: int = 0
    tokens: int = 0


def train(spec: TrainSpec, data_path: Path, out: Path, work: Path, seed: int = 0,
          say: Callable[[str], None] = print) -> dict:
    data_path, out, work = Path(data_path), Path(out), Path(work)
    work.mkdir(parents=True, exist_ok=True)
    main = rank() == 0
    if not main:
        say = lambda msg: None  # noqa: E731 -- one voice: rank 0 speaks for all ranks

    # 1. Everything a user can get wrong, before any compute.
    if not data_path.is_file():
        raise UserError(f"train: no training data at {data_path}; run `alchemist data RECIPE` first")
    device = pick_device(spec)
    source = model_source(spec, work)
    config, tokenizer, chosen = _load_tokenizer(spec, source)
    # what carries a loss, one sample of each task, for report.html (written with the model: `out`
    # exists only once training is done)
    masks = mask_record(tokenizer, data_path, chosen.end_of_turn, spec.train_on_prompt) if main else None
    batch = plan_batch(spec, device, say)
    say(f"chat template: {chosen.source}; a turn ends with {chosen.end_of_turn!r} "
        f"(id {tokenizer.convert_tokens_to_ids(chosen.end_of_turn)})"
        + (f"; added tokens {list(chosen.added_tokens)}" if chosen.added_tokens else ""))

    # 2. Tokens and labels, once (rank 0 writes the cache, the others read it).
    tok = _tokenize(spec, data_path, tokenizer, work, seed, say)

    # 3. The model, loaded before the trainer config (ZeRO-3 under torchrun needs that order).
    net = _prepare_model(source, spec, device, tokenizer, chosen, seed, say)
    say(f"model: {spec.model} ({net.params / 1e6:,.1f}M parameters, {net.trained / 1e6:,.2f}M trained, "
        f"{spec.method}); attention {net.attn}; {device.name}; bf16 {'on' if device.bf16 else 'off'}"
        + (f"; DeepSpeed ZeRO-{spec.deepspeed.stage}" if batch.deepspeed else ""))

    # 4. The trainer: its arguments, a pure function of the spec, then the trainer with our callbacks.
    ckpt_dir = work / CHECKPOINTS
    evals = tok.eval if spec.eval_fraction > 0 else {}
    args = _sft_config(sft_arguments(spec, device, batch, output_dir=ckpt_dir, seed=seed, evaluate=bool(evals),
                                     main=main))
    speed = _speed(spec, config, net, tok.stats)
    resume = _resume_point(ckpt_dir)
    meter = metrics.MetricsCallback(speed.flops_per_token, speed.peak, batch.world,
                                    work / "history.jsonl" if main else None, resume.step)
    trainer = _sft_trainer(net.model, args, tok, evals, tokenizer, device)
    _add_callbacks(trainer, meter, spec, work, main, say)

    # 5. Train, resuming where a killed attempt left off.
    if resume.path is not None:
        say(f"resuming from {resume.path.name} (step {resume.step}): optimizer, scheduler, RNG and data position "
            "restored")
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume.path) if resume.path else None)
    seconds = time.perf_counter() - started

    # 6. The model directory, written by rank 0.
    summary = {**_progress(trainer.state, meter.history, result.training_loss, seconds, resume.tokens, speed),
               **_setup(spec, device, batch, net.attn, resume, speed),
               **_data_summary(tok, chosen)}
    _save(trainer, tokenizer, spec, device, out, main, batch.deepspeed is not None)
    if main:
        _write_report(spec, out, work, masks, meter.history, summary)
    _barrier()
    return summary


def sft_arguments(spec: TrainSpec, device: Device, batch: Batch, *, output_dir: Path, seed: int, evaluate: bool,
                  main: bool) -> dict:
    """The keyword arguments of TRL's `SFTConfig` for this run: needs no model and no torch.

    `evaluate`: held-out rows exist (per-task eval loss every `eval_steps`); `main`: this is rank 0
    (the one progress bar)."""
    return dict(
        output_dir=str(output_dir),
        seed=seed,
        data_seed=seed,
        num_train_epochs=spec.epochs,
        max_steps=spec.max_steps,
        learning_rate=spec.lr,
        lr_scheduler_type=spec.scheduler,
        warmup_steps=spec.warmup_ratio,  # a float below 1 is a share of the steps
        per_device_train_batch_size=spec.micro_batch_size,
        per_device_eval_batch_size=spec.micro_batch_size,
        gradient_accumulation_steps=batch.accum,
        weight_decay=spec.weight_decay,
        max_grad_norm=spec.max_grad_norm,
        bf16=device.bf16,
        fp16=False,
        # transformers 5's name for gradient checkpointing; TRL would turn it on by default
        activation_checkpointing=spec.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if spec.gradient_checkpointing else None,
        neftune_noise_alpha=None,  # alchemist.train.neftune, per sample (`_prepare_model` attaches it)
        use_liger_kernel=spec.liger,
        deepspeed=batch.deepspeed,
        use_cpu=device.kind == "cpu" and batch.deepspeed is None,
        max_length=spec.max_seq_len,
        packing=spec.packing,
        packing_strategy="bfd",
        padding_free=spec.packing,
        eval_packing=spec.packing,
        # labels come from our own tokenization; TRL only packs and collates
        assistant_only_loss=False,
        completion_only_loss=False,
        save_strategy="steps",
        save_steps=spec.save_steps,
        save_total_limit=spec.save_total_limit,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=spec.eval_steps,
        logging_steps=spec.logging_steps,
        logging_first_step=True,
        report_to=[r for r in spec.report_to if r != "tensorboard"] or "none",
        dataloader_num_workers=spec.dataloader_workers,
        include_num_input_tokens_seen="non_padding",
        disable_tqdm=not main,
        save_only_model=False,
        ddp_find_unused_parameters=False,  # every weight (or adapter) takes part in every step
        accelerator_config={"use_configured_state": True} if batch.cpu_ranks else None,
    )


def _load_tokenizer(spec: TrainSpec, source: str):
    """(model config, tokenizer with the chat format applied, the format chosen); the errors a
    recipe can cause here (a wrong path, too long a max_seq_len, a template without an end of turn)."""
    try:
        config = AutoConfig.from_pretrained(source, revision=spec.revision)
        tokenizer = AutoTokenizer.from_pretrained(source, revision=spec.revision)
    except OSError as e:
        raise UserError(f"train.model: cannot load {spec.model} ({str(e).splitlines()[0][:160]}); "
                        "check the path or hub id, and network access for a hub id") from None
    longest = getattr(config, "max_position_embeddings", None)
    if longest and spec.max_seq_len > longest:
        raise UserError(f"train.max_seq_len: {spec.max_seq_len} is above the model's {longest} positions; "
                        f"set train.max_seq_len to {longest} or less")
    chosen = apply_format(tokenizer, spec.chat_template)
    check_pair(tokenizer, chosen.end_of_turn, chosen.source, spec.train_on_prompt)
    return config, tokenizer, chosen


def plan_batch(spec: TrainSpec, device: Device, say: Callable[[str], None]) -> Batch:
    """The global batch over this run's processes and the DeepSpeed config that shards it."""
    ds_config = ds.config(spec.deepspeed.stage, spec.deepspeed.offload, spec.deepspeed.config)
    if ds_config is not None and not _installed("deepspeed"):
        raise UserError("train.deepspeed: needs deepspeed (pip install deepspeed); or set train.deepspeed.stage: 0")
    cpu_ranks = ds_config is not None and device.kind == "cpu" and world_size() > 1
    if cpu_ranks:
        _cpu_deepspeed_state()
    world = world_size()
    batch = Batch(spec.micro_batch_size, spec.accumulation(world), world, ds_config, cpu_ranks)
    say(f"global batch: {batch.micro} x {batch.accum} x {world} = {batch.rows} rows per optimizer step "
        f"(micro batch x accumulation x processes{', pinned by train.global_batch_size' if spec.global_batch_size else ''})")
    return batch


def _tokenize(spec: TrainSpec, data_path: Path, tokenizer, work: Path, seed: int,
              say: Callable[[str], None]) -> tokdata.Tokenized:
    cache = work / "tokenized"
    settings = dict(max_seq_len=spec.max_seq_len, overlong=spec.overlong, train_on_prompt=spec.train_on_prompt,
                    eval_fraction=spec.eval_fraction, eval_max_samples=spec.eval_max_samples, seed=seed,
                    cache_dir=cache, workers=spec.tokenize_workers)
    if rank() != 0:
        key = tokdata.cache_key(tokdata.file_digest(data_path), tokdata.tokenizer_digest(tokenizer),
                                {k: v for k, v in settings.items() if k not in ("cache_dir", "workers")})
        _wait_for(cache / key / "stats.json", "the tokenization cache")
    tok = tokdata.tokenize(data_path, tokenizer, **settings)
    st = tok.stats
    say(f"tokenized {st.samples} samples in {tok.seconds:.1f}s{' (cache hit)' if tok.cache_hit else ''}: "
        f"{st.kept - st.held_out} train, {st.held_out} held out, {st.truncated} truncated, dropped {st.dropped or 0}; "
        f"{st.tokens:,} tokens, {st.trainable_tokens:,} trained")
    return tok


def _prepare_model(source: str, spec: TrainSpec, device: Device, tokenizer, chosen, seed: int,
                   say: Callable[[str], None]) -> Model:
    """The base model with room for the template's new tokens, stopping on the end-of-turn token,
    LoRA and NEFTune attached as the spec asks."""
    set_seed(seed)
    model, attn = _load_model(source, spec, device, say)
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    eot_id = tokenizer.convert_tokens_to_ids(chosen.end_of_turn)
    model.config.eos_token_id = eot_id
    model.generation_config.eos_token_id = eot_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    n_params = sum(p.numel() for p in model.parameters())
    if spec.method == "lora":
        model = _apply_lora(model, spec, tokenizer.convert_tokens_to_ids(list(chosen.added_tokens)))
    if spec.neftune_noise_alpha:
        # our hooks, not transformers': the noise scales with each packed sample's length
        NEFTune(spec.neftune_noise_alpha).attach(model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return Model(model, attn, n_params, trainable)


def _sft_config(arguments: dict):
    from trl import SFTConfig  # about a second to import: only when a run trains

    return SFTConfig(**arguments)


def _speed(spec: TrainSpec, config, net: Model, stats: tokdata.TokenStats) -> Speed:
    """FLOPs per trained token and the device's peak, for tokens/s and MFU."""
    n_layers = getattr(config, "num_hidden_layers", 0) or 0
    hidden = getattr(config, "hidden_size", 0) or 0
    peak, peak_name = metrics.device_peak_tflops(spec.peak_tflops)
    flops_tok = metrics.flops_per_token(net.params, n_layers, hidden, stats.attention_length, net.trained)
    return Speed(flops_tok, peak, peak_name)


def _resume_point(ckpt_dir: Path) -> Resume:
    path = last_checkpoint(ckpt_dir)
    if path is None:
        return Resume(None)
    saved = json.loads((path / "trainer_state.json").read_text())
    return Resume(path, saved.get("global_step", 0), int(saved.get("num_input_tokens_seen") or 0))


def _sft_trainer(model, args, tok: tokdata.Tokenized, evals: dict, tokenizer, device: Device):
    from trl import SFTTrainer  # about a second to import: only when a run trains

    return _trainer_class(SFTTrainer, fused_head=device.kind == "cuda")(
        model=model, args=args, train_dataset=tok.train.remove_columns("task"), eval_dataset=evals or None,
        processing_class=tokenizer)


def _add_callbacks(trainer, meter: metrics.MetricsCallback, spec: TrainSpec, work: Path, main: bool,
                   say: Callable[[str], None]) -> None:
    # first, so the progress bar and tensorboard see the tokens/s and MFU it adds to each log
    trainer.callback_handler.callbacks.insert(0, meter)
    if "tensorboard" in spec.report_to and main:
        # tensorboard: only for a run that reports to it
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback

        trainer.add_callback(TensorBoardCallback(tb_writer=SummaryWriter(log_dir=str(work / "tensorboard"))))
        say(f"tensorboard: tensorboard --logdir {work / 'tensorboard'}")


def _progress(state, history: list[dict], training_loss: float, seconds: float, tokens_before: int,
              speed: Speed) -> dict:
    """What the run did: steps, tokens, losses and this attempt's speed (summary keys, in order)."""
    last = next((h for h in reversed(history) if "loss" in h), {})
    eval_loss = {}
    for h in history:
        for k, v in h.items():
            if k.startswith("eval_") and k.endswith("_loss"):
                eval_loss[k[5:-5]] = v
    tokens = int(state.num_input_tokens_seen)
    # this attempt's tokens over its wall time, evaluation and checkpoints included
    rate = (tokens - tokens_before) / seconds if seconds > 0 else None
    mfu = rate * speed.flops_per_token / (speed.peak * 1e12 * world_size()) if rate and speed.peak else None
    return {
        "steps": state.global_step,
        "epochs": round(state.epoch or 0.0, 3),
        "tokens": tokens,
        "loss": last.get("loss"),
        # over every attempt's logged steps (the trainer's own mean covers this attempt only)
        "train_loss_mean": round(metrics.mean_train_loss(history) or training_loss, 5),
        "attempts": max((h.get("attempt", 1) for h in history), default=1),
        "eval_loss": eval_loss,
        "seconds": round(seconds, 1),
        "tokens_per_s": round(rate, 1) if rate else None,
        "mfu": round(mfu, 4) if mfu else None,
    }


def _setup(spec: TrainSpec, device: Device, batch: Batch, attn: str, resume: Resume, speed: Speed) -> dict:
    """Where and how it trained (summary keys, in order)."""
    return {
        "peak_tflops": speed.peak,
        "device": speed.peak_name if device.kind == "cpu" else device.name,
        "attention": attn,
        "method": spec.method,
        "global_batch_size": batch.rows,
        "micro_batch_size": spec.micro_batch_size,
        "grad_accum": batch.accum,
        "world_size": batch.world,
        "resumed_from": resume.path.name if resume.path else None,
    }


def _data_summary(tok: tokdata.Tokenized, chosen) -> dict:
    """What it trained on (summary keys, in order)."""
    st = tok.stats
    return {
        "samples": st.samples,
        "trained_samples": st.kept - st.held_out,
        "held_out": st.held_out,
        "truncated": st.truncated,
        "dropped": st.dropped,
        "trainable_tokens_per_epoch": st.trainable_tokens,
        "tokenize_seconds": round(tok.seconds, 2),
        "tokenize_cache_hit": tok.cache_hit,
        "chat_template": chosen.source,
        "end_of_turn": chosen.end_of_turn,
    }


def _write_report(spec: TrainSpec, out: Path, work: Path, masks: list | None, history: list[dict],
                  summary: dict) -> None:
    """Beside the model (rank 0): the loss mask record, training_report.json and loss.png, tensorboard logs."""
    if masks is not None:
        (out / "loss_mask.json").write_text(json.dumps(masks, ensure_ascii=False))
    metrics.write_report(out, history, {"title": f"{spec.model} ({spec.method})", **summary})
    if (work / "tensorboard").is_dir():
        shutil.copytree(work / "tensorboard", out / "logs", dirs_exist_ok=True)


def _barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def _trainer_class(sft_trainer, fused_head: bool):
    """TRL's SFTTrainer; without a GPU, with the plain causal-LM loss (logits, then cross-entropy).

    TRL computes the loss through a fused LM head that never holds the [tokens x vocab] logits (on
    a GPU: a Triton kernel; memory is what bounds long rows there). Without Triton it scores the
    head in Python-driven tiles, recomputes them in the backward pass and adds entropy and
    accuracy metrics: on CPU that made a micro batch of one packed row slower than a plain HF
    Trainer (benchmarks/train_throughput.py). The loss is the same: summed over label tokens and
    divided by the step's label count."""
    if fused_head:
        return sft_trainer
    from transformers import Trainer  # transformers.trainer (TRL's SFTTrainer loads it too): only when a run trains

    class PlainLossSFTTrainer(sft_trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs["use_cache"] = False
            return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

    return PlainLossSFTTrainer


def _cpu_deepspeed_state() -> None:
    """The distributed state for DeepSpeed on CPU ranks, set before the trainer's arguments.

    For DeepSpeed the HF arguments ask accelerate for no backend, and without a GPU accelerate
    then counts one process: every gather across ranks fails. Set up first, with gloo, the
    state is one the arguments reuse (`use_configured_state`).
    """
    from accelerate.state import PartialState  # only for DeepSpeed across CPU ranks

    os.environ["ACCELERATE_USE_DEEPSPEED"] = "true"
    try:
        PartialState(backend="gloo")
    finally:
        del os.environ["ACCELERATE_USE_DEEPSPEED"]


def _save(trainer, tokenizer, spec: TrainSpec, device: Device, out: Path, main: bool, deepspeed: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # training runs without a KV cache (packing needs that); generation wants it back
    trainer.accelerator.unwrap_model(trainer.model).config.use_cache = True
    if spec.method == "lora":
        # the adapter (small, for stacking or sharing) beside the merged model (what eval and vLLM load)
        model = trainer.accelerator.unwrap_model(trainer.model)
        if main:
            model.save_pretrained(out / "adapter")
            save_tokenizer(tokenizer, out / "adapter")
            merged = model.merge_and_unload()
            if device.bf16:
                merged = merged.to(torch.bfloat16)
            merged.save_pretrained(out)
    elif deepspeed:
        trainer.save_model(str(out))  # gathers ZeRO-3 shards into one checkpoint; every rank must call it
    elif main:
        model = trainer.accelerator.unwrap_model(trainer.model)
        if device.bf16:
            model = model.to(torch.bfloat16)
        model.save_pretrained(out)
    if main:
        save_tokenizer(tokenizer, out)
        for leftover in ("training_args.bin", "README.md"):
            (out / leftover).unlink(missing_ok=True)


def save_tokenizer(tokenizer, where: Path) -> None:
    """The tokenizer with a plain-Jinja chat_template.jinja every server renders, and the template
    trained with (generation tags kept) beside it as training_chat_template.jinja."""
    trained = tokenizer.chat_template
    tokenizer.chat_template = plain_template(trained) if isinstance(trained, str) else trained
    try:
        tokenizer.save_pretrained(where)
    finally:
        tokenizer.chat_template = trained
    if isinstance(trained, str):
        (Path(where) / TRAINING_TEMPLATE_FILE).write_text(trained, encoding="utf-8")
