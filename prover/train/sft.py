"""Supervised fine-tuning of a tactic generator on exported (prompt, completion) pairs, or of a whole-proof
generator on exported gated proofs (``--kind whole`` data; chat formats train on the conversation through the
tokenizer's chat template, as the backends prompt at inference).

* **causal** (InternLM2.5-StepProver, BFS-Prover style): trl's ``SFTTrainer`` on the prompt-completion columns,
  loss on the completion only (trl appends the tokenizer's EOS);
* **seq2seq** (ReProver's ByT5): transformers' ``Seq2SeqTrainer``, the prompt into the encoder and the completion
  as the decoder's labels;
* full fine-tuning or LoRA (peft), on one CPU, one GPU, or many under ``accelerate launch`` / ``torchrun``
  (DDP, FSDP, DeepSpeed ZeRO from the ``[train]`` config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prover.errors import UserError
from prover.train.common import (
    architecture,
    load_model,
    load_splits,
    load_tokenizer,
    lora_config,
    prepare_run,
    say,
    train_and_save,
    training_kwargs,
)
from prover.train.config import TrainConfig

COLUMNS = ["prompt", "completion"]


def train_sft(
    data_dir: Path | str, out: Path | str, cfg: TrainConfig, model_name: str, *, force: bool = False
) -> dict[str, Any]:
    """Train ``model_name`` on the sft export in ``data_dir`` into ``out`` (resumes); returns the metrics."""
    out = Path(out)
    if prepare_run(out, "sft", data_dir, model_name, cfg, force):
        return {}
    train, valid, manifest = load_splits(data_dir, "sft", accepts=("whole",))
    train, valid = train.select_columns(COLUMNS), valid.select_columns(COLUMNS) if valid is not None else None
    arch = architecture(model_name, cfg)
    if arch == "seq2seq" and not isinstance(train[0]["prompt"], str):
        raise UserError(f"{data_dir} holds chat conversations; train them on a causal (chat) model, not {model_name}")
    tokenizer = load_tokenizer(model_name, cfg)
    say(f"sft ({arch}{', LoRA' if cfg.lora.enabled else ''}) of {model_name} on {len(train)} rows → {out}")
    if arch == "seq2seq":
        trainer, merge = _seq2seq_trainer(train, valid, out, cfg, model_name, tokenizer)
    else:
        trainer, merge = _causal_trainer(train, valid, out, cfg, model_name, tokenizer)
    return train_and_save(
        trainer, out, kind="sft", base_model=model_name, manifest=manifest, cfg=cfg, tokenizer=tokenizer,
        merge_lora=merge,
    )  # fmt: skip


def merger(model_name: str, cls: Any, cfg: TrainConfig) -> Any:
    """``adapter_dir -> merged model``: the base model reloaded on CPU plus the saved adapter, merged (works
    whatever the adapter was trained under: DDP, FSDP, ZeRO-3)."""

    def merge(adapter: Path) -> Any:
        from peft import PeftModel

        base = load_model(model_name, cls, cfg)
        return PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()

    return merge


def _causal_trainer(train: Any, valid: Any, out: Path, cfg: TrainConfig, name: str, tokenizer: Any) -> Any:
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    model = load_model(name, AutoModelForCausalLM, cfg)
    args = SFTConfig(
        **training_kwargs(cfg, out, valid is not None),
        max_length=cfg.max_length,
        completion_only_loss=True,
        packing=cfg.sft.packing,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=valid,
        processing_class=tokenizer,
        peft_config=lora_config(cfg, "CAUSAL_LM"),
    )
    merge = merger(name, AutoModelForCausalLM, cfg) if cfg.lora.enabled and cfg.lora.merge else None
    return trainer, merge


def _seq2seq_trainer(train: Any, valid: Any, out: Path, cfg: TrainConfig, name: str, tokenizer: Any) -> Any:
    from transformers import (
        AutoModelForSeq2SeqLM,
        DataCollatorForSeq2Seq,
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
    )

    if cfg.sft.packing:
        say("train.sft.packing applies to causal models only; ignored for seq2seq")
    model = load_model(name, AutoModelForSeq2SeqLM, cfg)
    lora = lora_config(cfg, "SEQ_2_SEQ_LM")
    if lora is not None:
        from peft import get_peft_model

        model = get_peft_model(model, lora)

    def tokenize(batch: dict[str, list[str]]) -> dict[str, Any]:
        enc = tokenizer(batch["prompt"], truncation=True, max_length=cfg.max_length)
        enc["labels"] = tokenizer(text_target=batch["completion"], truncation=True,
                                  max_length=cfg.sft.max_target_length)["input_ids"]  # fmt: skip
        return enc

    train = train.map(tokenize, batched=True, remove_columns=COLUMNS)
    valid = valid.map(tokenize, batched=True, remove_columns=COLUMNS) if valid is not None else None
    args = Seq2SeqTrainingArguments(**training_kwargs(cfg, out, valid is not None))
    trainer = Seq2SeqTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=valid,
        processing_class=tokenizer,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model),
    )
    merge = merger(name, AutoModelForSeq2SeqLM, cfg) if lora is not None and cfg.lora.merge else None
    return trainer, merge
