"""Tactic generators, whole-proof generators and critics behind small protocols (HF, vLLM, HTTP, automation).

Entry points: `build_generator(cfg.generator)`, `build_proof_generator(cfg.whole)` and
`build_critic(cfg.generator)`. Heavy libraries (torch,
transformers, vllm) are imported only when a backend that needs them is built.
"""

from prover.models.automation import AutomationGenerator, CombinedGenerator
from prover.models.base import (
    Candidate,
    Critic,
    ProofCandidate,
    ProofFeedback,
    ProofGenerator,
    StepContext,
    TacticGenerator,
)
from prover.models.config import CriticConfig, GeneratorConfig, WholeConfig
from prover.models.errors import GenerationError, ModelLoadError
from prover.models.factory import build_critic, build_generator, build_proof_generator
from prover.models.filters import TacticFilter

__all__ = [
    "AutomationGenerator",
    "Candidate",
    "CombinedGenerator",
    "Critic",
    "CriticConfig",
    "GenerationError",
    "GeneratorConfig",
    "ModelLoadError",
    "ProofCandidate",
    "ProofFeedback",
    "ProofGenerator",
    "StepContext",
    "TacticFilter",
    "TacticGenerator",
    "build_critic",
    "WholeConfig",
    "build_generator",
    "build_proof_generator",
]
