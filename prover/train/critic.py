"""A critic for multi-perspective search (MPS-Prover): a sequence-classification head over the goal state,
trained with transformers' ``Trainer`` on the exported critic data.

* ``regression`` (default): one output fitted (MSE) to the export's ``label`` = ``-min(distance to no goals,
  cap)``, ``-cap`` for dead states. Higher is better, as `Critic.score` promises, so `build_critic` loads the
  checkpoint with the default critic config (``negate = false``).
* ``classification``: two classes (dead, provable); `HFCritic` scores P(provable), the last class.

The base model can be an encoder (e.g. a BERT-style model) or a decoder (GPT-2, a step prover's own weights):
transformers adds a fresh score head; decoder heads read the last non-pad token, so the pad token id is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prover.train.common import (
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


def train_critic(
    data_dir: Path | str, out: Path | str, cfg: TrainConfig, model_name: str, *, force: bool = False
) -> dict[str, Any]:
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer, TrainingArguments

    out = Path(out)
    if prepare_run(out, "critic", data_dir, model_name, cfg, force):
        return {}
    train, valid, manifest = load_splits(data_dir, "critic")
    regression = cfg.critic.objective == "regression"
    tokenizer = load_tokenizer(model_name, cfg)
    head = {"num_labels": 1, "problem_type": "regression"} if regression else {
        "num_labels": 2, "problem_type": "single_label_classification"}  # fmt: skip
    model = load_model(model_name, AutoModelForSequenceClassification, cfg, **head)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    lora = lora_config(cfg, "SEQ_CLS")
    if lora is not None:
        from peft import get_peft_model

        model = get_peft_model(model, lora)

    def tokenize(batch: dict[str, list[Any]]) -> dict[str, Any]:
        enc = tokenizer(batch["text"], truncation=True, max_length=cfg.max_length)
        enc["labels"] = [float(x) for x in batch["label"]] if regression else [int(p) for p in batch["provable"]]
        return enc

    cols = train.column_names
    train = train.map(tokenize, batched=True, remove_columns=cols)
    valid = valid.map(tokenize, batched=True, remove_columns=cols) if valid is not None else None
    say(f"critic ({cfg.critic.objective}{', LoRA' if lora else ''}) on {model_name}, {len(train)} states → {out}")
    trainer = Trainer(
        model=model,
        args=TrainingArguments(**training_kwargs(cfg, out, valid is not None)),
        train_dataset=train,
        eval_dataset=valid,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
    )
    merge = None
    if lora is not None and cfg.lora.merge:

        def merge(adapter: Path) -> Any:
            from peft import PeftModel

            base = load_model(model_name, AutoModelForSequenceClassification, cfg, **head)
            base.config.pad_token_id = model.config.pad_token_id
            return PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()

    return train_and_save(
        trainer, out, kind="critic", base_model=model_name, manifest=manifest, cfg=cfg, tokenizer=tokenizer,
        merge_lora=merge, info={"objective": cfg.critic.objective},
    )  # fmt: skip
