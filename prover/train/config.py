"""The ``[train]`` config section: hyperparameters shared by every trainer, then one table per trainer
(``sft``, ``dpo``, ``critic``), LoRA, expert iteration and data export (``[train.export]``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from data.config import ExportConfig


class LoraSettings(BaseModel):
    """LoRA adapters (peft). With ``merge`` the final checkpoint is the merged full model, which the ``hf``
    and ``vllm`` generators load as is; without it ``final/`` holds only the adapter."""

    model_config = {"extra": "forbid"}

    enabled: bool = False
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    merge: bool = True


class SFTSettings(BaseModel):
    model_config = {"extra": "forbid"}

    # causal: trl SFTTrainer on (prompt, completion), loss on the completion only;
    # seq2seq: transformers Seq2SeqTrainer (ReProver's ByT5); auto: from the model's config.
    architecture: Literal["auto", "causal", "seq2seq"] = "auto"
    packing: bool = False  # trl packing (causal only)
    max_target_length: int = Field(512, ge=1)  # seq2seq: tokens of the tactic


class DPOSettings(BaseModel):
    model_config = {"extra": "forbid"}

    beta: float = Field(0.1, gt=0.0)
    loss_type: str = "sigmoid"  # any trl DPOConfig loss_type
    precompute_ref_log_probs: bool = False


class CriticSettings(BaseModel):
    model_config = {"extra": "forbid"}

    # regression: one output trained on the export's ``label`` (-distance to `no goals`, higher is better);
    # classification: two classes, P(provable) is the score. Both load in `build_critic` unchanged.
    objective: Literal["regression", "classification"] = "regression"


class IterateSettings(BaseModel):
    """Expert iteration (`prover train iterate`): batch → export → train, ``rounds`` times."""

    model_config = {"extra": "forbid"}

    rounds: int = Field(2, ge=1)
    attempts: int = Field(2, ge=1)  # batch attempts per theorem and round
    # Where each round starts training from: the previous round's model, or the base model every time
    # (BFS-Prover-V2 retrains from the base when progress stalls).
    init: Literal["previous", "base"] = "previous"
    # Extra training inputs used in every round (LeanDojo traced data, step files, earlier run dirs).
    extra_data: list[str] = Field(default_factory=list)
    # Theorems solved in at least this share of a round's attempts leave the next round's pool (None: keep).
    prune_solved_rate: float | None = Field(1.0, gt=0.0, le=1.0)
    # A round's rows of theorems it solved in at least this share of (>= 2) attempts are not trained on
    # (BFS-Prover: what the policy already solves teaches it nothing); sets train.export.easy_solve_rate.
    easy_solve_rate: float | None = Field(1.0, gt=0.0, le=1.0)
    # Run each round's training under a launcher, e.g. ["torchrun", "--nproc_per_node", "8"] or
    # ["accelerate", "launch", "--config_file", "configs/train/accelerate_1node_8gpu.yaml"]: the command
    # becomes LAUNCHER -m prover train sft ...; None trains in this process.
    launcher: list[str] | None = None


class TrainConfig(BaseModel):
    model_config = {"extra": "forbid", "protected_namespaces": ()}

    model: str = ""  # base model: hub id or folder (sft/dpo default: generator.model)
    tokenizer: str | None = None
    trust_remote_code: bool = False
    learning_rate: float = Field(2e-5, gt=0.0)
    epochs: float = Field(1.0, gt=0.0)
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = Field(8, ge=1)  # per device
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(2048, ge=8)  # tokens of prompt + completion
    warmup_ratio: float = Field(0.03, ge=0.0, le=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    lr_scheduler: str = "cosine"
    logging_steps: int = Field(10, ge=1)
    eval_steps: int = Field(500, ge=1)
    save_steps: int = Field(500, ge=1)
    save_total_limit: int | None = Field(3, ge=1)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: bf16 on a GPU that has it, else fp32
    gradient_checkpointing: bool = False
    seed: int = 0
    device: Literal["auto", "cpu"] = "auto"  # cpu: train on CPU even where CUDA exists
    ddp_backend: str | None = None  # nccl | gloo (default: transformers' choice)
    deepspeed: Path | None = None  # a DeepSpeed JSON config (configs/train/deepspeed_zero{2,3}.json)
    fsdp: str = ""  # e.g. "full_shard auto_wrap" (see configs/train/accelerate_fsdp.yaml)
    report_to: list[str] = Field(default_factory=lambda: ["none"])  # e.g. ["tensorboard"], ["wandb"]
    dataloader_workers: int = Field(0, ge=0)

    lora: LoraSettings = Field(default_factory=LoraSettings)
    sft: SFTSettings = Field(default_factory=SFTSettings)
    dpo: DPOSettings = Field(default_factory=DPOSettings)
    critic: CriticSettings = Field(default_factory=CriticSettings)
    iterate: IterateSettings = Field(default_factory=IterateSettings)
    export: ExportConfig = Field(default_factory=ExportConfig)
