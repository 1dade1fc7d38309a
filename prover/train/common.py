"""What every trainer shares: the exported data, model loading, the libraries' training arguments from the
``[train]`` config, a progress line, resuming from the last checkpoint and the final checkpoint.

Layout of an output directory ``OUT``:

* ``OUT/checkpoint-N/`` — the Trainer's checkpoints (optimizer, scheduler, RNG states); a rerun of the same
  command resumes from the last one;
* ``OUT/final/`` — the trained model with its tokenizer and ``prover.json`` (what trained it, on which data,
  with which prompt format). It loads unchanged in the ``hf`` and ``vllm`` generators (``generator.model =
  OUT/final``; ``prompt_format = "auto"`` reads the format from ``prover.json``) or, for a critic, in
  ``build_critic`` (``generator.critic.model = OUT/final``). With LoRA the adapter is merged into the base
  model first (``train.lora.merge``), so the folder is an ordinary full checkpoint;
* ``OUT/prover_train.json`` — the run's settings; a rerun with another kind, data or base model is refused.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from data.export import load_manifest
from prover.errors import UserError
from prover.models.prompts import CHECKPOINT_INFO
from prover.train.config import TrainConfig

log = logging.getLogger(__name__)

FINAL = "final"
RUN_FILE = "prover_train.json"


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def say(msg: str) -> None:
    if is_main_process():
        print(f"prover train: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------
# Data


def load_splits(data_dir: Path | str, kind: str, accepts: tuple[str, ...] = ()) -> tuple[Any, Any, dict[str, Any]]:
    """``(train, valid or None, manifest)`` of an export directory of ``kind`` (or one of ``accepts``) as
    `datasets.Dataset`s."""
    import datasets

    m = load_manifest(data_dir)
    if m["kind"] not in (kind, *accepts):
        want = " or ".join(f"`--kind {k}`" for k in (kind, *accepts))
        raise UserError(f"{data_dir} holds {m['kind']} data; `prover train {kind}` needs {want} data")
    builder = "parquet" if m["files"]["train"].endswith(".parquet") else "json"
    out = []
    for split in ("train", "valid"):
        path = Path(data_dir) / m["files"][split]
        if not path.is_file() or m["rows"][split] == 0:
            out.append(None)
            continue
        out.append(datasets.load_dataset(builder, data_files=str(path), split="train"))
    if out[0] is None:
        raise UserError(f"{data_dir}: no training rows (see its manifest.json: what did the filters remove?)")
    return out[0], out[1], m


# ---------------------------------------------------------------------------------------------------
# Models


def architecture(name: str, cfg: TrainConfig) -> str:
    """``seq2seq`` or ``causal`` from the model's config (or ``train.sft.architecture``)."""
    if cfg.sft.architecture != "auto":
        return cfg.sft.architecture
    from transformers import AutoConfig

    c = _load("config", name, lambda: AutoConfig.from_pretrained(name, **_hub(cfg)))
    return "seq2seq" if getattr(c, "is_encoder_decoder", False) else "causal"


def _hub(cfg: TrainConfig) -> dict[str, Any]:
    from prover.models.loading import hub_offline

    return {"trust_remote_code": cfg.trust_remote_code, "local_files_only": hub_offline()}


def _load(what: str, name: str, fn: Any) -> Any:
    from prover.models.loading import explain_load_error

    try:
        return fn()
    except Exception as e:
        raise explain_load_error(e, what, name) from e


def torch_dtype(cfg: TrainConfig) -> Any:
    import torch

    p = precision(cfg)
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(p, torch.float32)


def precision(cfg: TrainConfig) -> str:
    import torch

    if cfg.precision != "auto":
        if cfg.precision in ("bf16", "fp16") and (cfg.device == "cpu" or not torch.cuda.is_available()):
            raise UserError(f"train.precision = {cfg.precision} needs a CUDA GPU; use fp32 (or auto) on CPU")
        return cfg.precision
    if cfg.device != "cpu" and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def load_tokenizer(name: str, cfg: TrainConfig) -> Any:
    from transformers import AutoTokenizer

    tname = cfg.tokenizer or name
    tok = _load("tokenizer", tname, lambda: AutoTokenizer.from_pretrained(tname, **_hub(cfg)))
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise UserError(f"the tokenizer of {name!r} has neither a pad nor an eos token")
        tok.pad_token = tok.eos_token
    return tok


def load_model(name: str, cls: Any, cfg: TrainConfig, **kw: Any) -> Any:
    from prover.models.loading import dtype_kwarg

    return _load("model", name, lambda: cls.from_pretrained(name, **dtype_kwarg(torch_dtype(cfg)), **_hub(cfg), **kw))


def lora_config(cfg: TrainConfig, task_type: str) -> Any:
    if not cfg.lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules,
        task_type=task_type,
    )


# ---------------------------------------------------------------------------------------------------
# Training arguments, progress


def training_kwargs(cfg: TrainConfig, out: Path, has_eval: bool) -> dict[str, Any]:
    """Keywords of `transformers.TrainingArguments` (and of trl's configs, which extend it)."""
    p = precision(cfg)
    return {
        "output_dir": str(out),
        "per_device_train_batch_size": cfg.batch_size,
        "per_device_eval_batch_size": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum,
        "learning_rate": cfg.learning_rate,
        "num_train_epochs": cfg.epochs,
        "max_steps": cfg.max_steps,
        "warmup_steps": cfg.warmup_ratio,  # a float below 1 is a ratio of the total steps
        "weight_decay": cfg.weight_decay,
        "lr_scheduler_type": cfg.lr_scheduler,
        "logging_steps": cfg.logging_steps,
        "logging_first_step": True,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": cfg.eval_steps,
        "save_strategy": "steps",
        "save_steps": cfg.save_steps,
        "save_total_limit": cfg.save_total_limit,
        "bf16": p == "bf16",
        "fp16": p == "fp16",
        "seed": cfg.seed,
        "use_cpu": cfg.device == "cpu",
        "ddp_backend": cfg.ddp_backend,
        "deepspeed": str(cfg.deepspeed) if cfg.deepspeed else None,
        "fsdp": cfg.fsdp,
        "report_to": cfg.report_to,
        "dataloader_num_workers": cfg.dataloader_workers,
        "disable_tqdm": not sys.stderr.isatty(),
        "include_num_input_tokens_seen": True,
        **_checkpointing(cfg.gradient_checkpointing),
    }


def _checkpointing(on: bool) -> dict[str, Any]:
    """Activation (gradient) checkpointing under the name this transformers uses (renamed in v5)."""
    if not on:
        return {}
    from transformers import TrainingArguments

    new = hasattr(TrainingArguments, "activation_checkpointing")
    return {"activation_checkpointing" if new else "gradient_checkpointing": True}


def progress_callback() -> Any:
    """One line per log on stderr (step, loss, eval loss, learning rate, tokens/s), from the main process."""
    from transformers import TrainerCallback

    class ProgressLine(TrainerCallback):
        def __init__(self) -> None:
            self.t0, self.tokens0 = time.monotonic(), 0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            # tokens/s of this run (after a resume the state already counts the tokens seen before)
            self.t0, self.tokens0 = time.monotonic(), getattr(state, "num_input_tokens_seen", 0) or 0

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if not state.is_world_process_zero or not logs:
                return
            parts = [f"step {state.global_step}/{state.max_steps}"]
            for key, label in (("loss", "loss"), ("eval_loss", "eval loss"), ("train_loss", "train loss")):
                if key in logs:
                    parts.append(f"{label} {logs[key]:.4f}")
            if "learning_rate" in logs:
                parts.append(f"lr {logs['learning_rate']:.2e}")
            tokens = (getattr(state, "num_input_tokens_seen", 0) or 0) - self.tokens0
            elapsed = time.monotonic() - self.t0
            if tokens and elapsed > 0:
                parts.append(f"{tokens / elapsed:,.0f} tokens/s")
            print("prover train: " + " | ".join(parts), file=sys.stderr, flush=True)

    return ProgressLine()


# ---------------------------------------------------------------------------------------------------
# Runs: resume, final checkpoint


def prepare_run(out: Path, kind: str, data_dir: Path | str | None, model: str, cfg: TrainConfig, force: bool) -> bool:
    """Check ``out`` belongs to this run (or is new); returns True (and says so) when ``out/final`` is already
    complete."""
    out = Path(out)
    info = {"kind": kind, "data": str(Path(data_dir).resolve()) if data_dir else None, "model": model}
    run_file = out / RUN_FILE
    if run_file.is_file():
        old = json.loads(run_file.read_text(encoding="utf-8"))
        diff = [k for k in info if old.get(k) != info[k]]
        # A run that stopped before its first checkpoint (bad data, a model that did not load) has nothing to
        # protect: the corrected command takes the directory over.
        trained = any(p.name == FINAL or p.name.startswith("checkpoint-") for p in out.iterdir())
        if diff and trained and not force:
            k = diff[0]
            raise UserError(
                f"{out} holds another training run ({k}: {old.get(k)!r} -> {info[k]!r}); use a new --out, or "
                "--force to train into it anyway"
            )
    elif out.exists() and any(out.iterdir()) and not force:
        raise UserError(f"{out} exists and is not a training run directory; use a new --out (or --force)")
    if (out / FINAL / CHECKPOINT_INFO).is_file() and not force:
        say(f"{out}/final is complete; nothing to do")
        return True
    if is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps({**info, "config": cfg.model_dump(mode="json")}, indent=1) + "\n")
    return False


def last_checkpoint(out: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    if not Path(out).is_dir():
        return None
    return get_last_checkpoint(str(out))


def train_and_save(
    trainer: Any,
    out: Path,
    *,
    kind: str,
    base_model: str,
    manifest: dict[str, Any] | None,
    cfg: TrainConfig,
    tokenizer: Any,
    merge_lora: Any = None,
    info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train (resuming from the last checkpoint in ``out``), evaluate, and write ``out/final``. ``merge_lora``
    (``adapter_dir -> full model``) merges a LoRA adapter into its base model. Returns the final metrics."""
    out = Path(out)
    resume = last_checkpoint(out)
    if resume:
        say(f"resuming from {resume}")
    trainer.add_callback(progress_callback())
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # our one-line progress replaces the raw log dicts
    n = trainer.args.world_size
    say(f"training on {n} process{'es' if n != 1 else ''} ({trainer.args.device})")
    t0 = time.monotonic()
    tokens0 = 0
    if resume:  # the state counts the tokens seen before the checkpoint too
        state = json.loads((Path(resume) / "trainer_state.json").read_text(encoding="utf-8"))
        tokens0 = int(state.get("num_input_tokens_seen") or 0)
    result = trainer.train(resume_from_checkpoint=resume)
    train_seconds = time.monotonic() - t0
    metrics = dict(result.metrics)
    # measured here: the span of trainer.train() (this run only) and the input tokens it saw, all processes
    metrics["train_seconds"] = round(train_seconds, 3)
    metrics["tokens_seen"] = int((trainer.state.num_input_tokens_seen or 0) - tokens0)
    if trainer.eval_dataset is not None:
        ev = trainer.evaluate()
        metrics.update(ev)
        say(f"eval loss {ev.get('eval_loss', math.nan):.4f}")
    final = out / FINAL
    if merge_lora is not None:
        adapter = out / "adapter"
        trainer.save_model(str(adapter))
        if trainer.is_world_process_zero():
            model = merge_lora(adapter)
            model.save_pretrained(str(final))
    else:
        trainer.save_model(str(final))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(final))
        data_info = {}
        if manifest is not None:
            data_info = {k: manifest.get(k) for k in ("kind", "rows", "theorems", "inputs", "removed")}
        checkpoint_info = {
            "trained_by": f"prover train {kind}",
            "kind": kind,
            "base_model": base_model,
            # the step prompt format, or for whole-proof data the whole-proof format (`whole.prompt_format`)
            **({"proof_format": manifest.get("prompt_format")} if manifest and manifest.get("kind") == "whole"
               else {"prompt_format": manifest.get("prompt_format") if manifest else None}),  # fmt: skip
            "prompt_template": (manifest.get("generator") or {}).get("prompt_template") if manifest else None,
            "critic_prompt_template": (manifest.get("generator") or {}).get("critic_prompt_template")
            if manifest
            else None,
            "data": data_info,
            "metrics": {k: v for k, v in metrics.items() if isinstance(v, int | float)},
            "seconds": round(time.monotonic() - t0, 1),
            **(info or {}),
        }
        (final / CHECKPOINT_INFO).write_text(json.dumps(checkpoint_info, indent=1) + "\n")
        say(f"final checkpoint: {final}")
    return metrics
