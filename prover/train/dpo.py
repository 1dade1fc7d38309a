"""DPO of a causal tactic generator on exported preference pairs (BFS-Prover: chosen = the proof-path tactic,
rejected = a sibling Lean rejected or that led to a dead end), with trl's ``DPOTrainer``.

The reference model is the starting model (a frozen copy; with LoRA the adapter-disabled model, with
``train.dpo.precompute_ref_log_probs`` its log-probs computed once). Encoder-decoder models are not supported by
trl's DPO; train them with ``prover train sft``.
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
from prover.train.sft import merger

COLUMNS = ["prompt", "chosen", "rejected"]


def train_dpo(
    data_dir: Path | str, out: Path | str, cfg: TrainConfig, model_name: str, *, force: bool = False
) -> dict[str, Any]:
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    out = Path(out)
    if prepare_run(out, "dpo", data_dir, model_name, cfg, force):
        return {}
    if architecture(model_name, cfg) != "causal":
        raise UserError(f"{model_name}: DPO needs a causal (decoder-only) model; trl's DPO has no encoder-decoder path")
    train, valid, manifest = load_splits(data_dir, "dpo")
    train, valid = train.select_columns(COLUMNS), valid.select_columns(COLUMNS) if valid is not None else None
    tokenizer = load_tokenizer(model_name, cfg)
    model = load_model(model_name, AutoModelForCausalLM, cfg)
    lora = lora_config(cfg, "CAUSAL_LM")
    ref = None
    if lora is None and not cfg.dpo.precompute_ref_log_probs:
        ref = load_model(model_name, AutoModelForCausalLM, cfg)
    say(f"dpo (beta {cfg.dpo.beta}{', LoRA' if lora else ''}) of {model_name} on {len(train)} pairs → {out}")
    args = DPOConfig(
        **training_kwargs(cfg, out, valid is not None),
        max_length=cfg.max_length,
        beta=cfg.dpo.beta,
        loss_type=[cfg.dpo.loss_type],
        precompute_ref_log_probs=cfg.dpo.precompute_ref_log_probs,
    )
    trainer = DPOTrainer(
        model=model,
        ref_model=ref,
        args=args,
        train_dataset=train,
        eval_dataset=valid,
        processing_class=tokenizer,
        peft_config=lora,
    )
    merge = merger(model_name, AutoModelForCausalLM, cfg) if lora is not None and cfg.lora.merge else None
    return train_and_save(
        trainer, out, kind="dpo", base_model=model_name, manifest=manifest, cfg=cfg, tokenizer=tokenizer,
        merge_lora=merge,
    )  # fmt: skip
