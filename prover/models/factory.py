"""`build_generator`, `build_proof_generator` and `build_critic`: where a config becomes a model backend."""

from __future__ import annotations

from prover.models.automation import AutomationGenerator, CombinedGenerator
from prover.models.base import Critic, TacticGenerator
from prover.models.config import CriticConfig, GeneratorConfig
from prover.models.filters import TacticFilter
from prover.models.whole import build_proof_generator

__all__ = ["build_critic", "build_generator", "build_proof_generator"]


def build_generator(cfg: GeneratorConfig) -> TacticGenerator:
    """The tactic generator ``cfg`` describes (loads the model: may take a while; fails with `ModelLoadError`)."""
    automation = None
    if cfg.uses_automation:
        automation = AutomationGenerator(
            cfg.automation, cfg.automation_logprob, TacticFilter(cfg.banned, cfg.allow_native_decide)
        )
    backend = cfg.model_backend
    model: TacticGenerator | None
    if backend is None:
        model = None
    elif backend == "hf":
        from prover.models.hf import HFGenerator

        model = HFGenerator.from_config(cfg)
    elif backend == "vllm":
        from prover.models.vllm_backend import VLLMGenerator

        model = VLLMGenerator.from_config(cfg)
    elif backend == "openai":
        from prover.models.openai_client import OpenAIGenerator

        model = OpenAIGenerator.from_config(cfg)
    else:  # the config validator only lets known backends through
        raise ValueError(f"unknown backend {backend!r}")
    if model is None:
        assert automation is not None
        return automation
    if automation is None:
        return model
    return CombinedGenerator(model, automation, automation_first=cfg.automation_first)


def build_critic(cfg: GeneratorConfig | CriticConfig) -> Critic | None:
    """The critic of ``cfg`` (``GeneratorConfig.critic`` or a `CriticConfig`), or None when it is off."""
    ccfg = cfg.critic if isinstance(cfg, GeneratorConfig) else cfg
    if ccfg.backend == "none":
        return None
    if ccfg.backend == "hf":
        from prover.models.hf import HFCritic

        return HFCritic.from_config(ccfg)
    raise ValueError(f"unknown critic backend {ccfg.backend!r}")
