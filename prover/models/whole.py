"""Whole-proof generation: theorems in, sampled whole proofs out (`ProofGenerator`), on the HF, vLLM and
OpenAI-compatible backends of the step prover.

A prompt comes from the one renderer (`prover.models.prompts.ProofFormat`: DeepSeek-Prover-V2, Goedel-Prover-V2
with its self-correction turn, Kimina-Prover, plain / template); the backend samples ``n`` completions; each
becomes a `ProofCandidate` whose ``text`` is the final Lean block (`prover.models.extract`) screened against
the trusted statement by the gate's own policy. Budgets are counted as the model papers and APOLLO count them:
every completion is one sample (a self-correction turn too), with its prompt and completion tokens
(`SamplingUsage`).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from prover.lean.types import Theorem
from prover.models.base import ProofCandidate, ProofFeedback
from prover.models.config import WholeConfig
from prover.models.extract import complete_statement, declares, extract_lean_block, screen_proof, statement_name
from prover.models.filters import Completion
from prover.models.prompts import Messages, ProofFormat, get_proof_format

log = logging.getLogger(__name__)


class CompletionBackend(Protocol):
    """What a whole-proof generator needs from a model backend (`HFGenerator`, `VLLMGenerator` and
    `OpenAIGenerator` have it)."""

    def complete(
        self, prompts: Sequence[str | Messages], n: int, seeds: Sequence[int | None] | None = None
    ) -> list[list[Completion]]: ...

    def close(self) -> None: ...


class BackendSource(Protocol):
    """Where a mode gets the completion backend of each model it uses, by role (``whole``: the whole-proof
    model; ``draft`` / ``sketch``: sketch mode's), model config (``backend``, the loading keys), decoding
    keywords (see `_decoding`) and whether token log-probs are wanted. `build_here` builds it in this process;
    a batch gives its workers backends that are safe to call from several threads at once and merge their calls
    (`prover.batch.runner.BatchingCompletions`), or proxies to the Ray actor serving that model
    (`prover.batch.ray_backend`)."""

    def __call__(self, role: str, cfg: Any, opts: dict[str, Any], *, logprobs: bool) -> CompletionBackend: ...


def build_here(role: str, cfg: Any, opts: dict[str, Any], *, logprobs: bool) -> CompletionBackend:
    """The `BackendSource` that loads the model in this process (`build_completion_backend`)."""
    return build_completion_backend(cfg, opts, logprobs=logprobs)


@dataclass
class SamplingUsage:
    """Samples (completions, each self-correction turn included) and tokens spent, as budgets count them."""

    samples: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0  # prompts sent

    def add(self, candidates: Sequence[ProofCandidate]) -> None:
        self.samples += len(candidates)
        self.completion_tokens += sum(c.completion_tokens for c in candidates)
        # one prompt serves all the samples of a request; its tokens are counted once per request
        self.prompt_tokens += max((c.prompt_tokens for c in candidates), default=0)
        self.requests += 1 if candidates else 0


@dataclass(frozen=True)
class SamplingBudget:
    """A per-theorem budget: ``max_samples`` completions, ``max_tokens`` completion tokens (None: no limit).
    `allowed` says how many of ``n`` wanted samples may still be drawn."""

    max_samples: int | None = None
    max_tokens: int | None = None

    def allowed(self, usage: SamplingUsage, n: int) -> int:
        if self.max_tokens is not None and usage.completion_tokens >= self.max_tokens:
            return 0
        if self.max_samples is None:
            return n
        return max(0, min(n, self.max_samples - usage.samples))

    @classmethod
    def from_config(cls, cfg: WholeConfig) -> SamplingBudget:
        return cls(cfg.max_samples, cfg.max_tokens)


def make_proof_candidate(theorem: Theorem, completion: Completion, fmt: ProofFormat) -> ProofCandidate:
    """A sampled answer → a candidate: its final Lean block, screened against the trusted statement."""
    raw = completion.text
    mean = completion.logprob / completion.num_tokens if completion.num_tokens else 0.0
    common = {
        "raw": raw,
        "logprob": completion.logprob,
        "mean_logprob": mean if math.isfinite(mean) else 0.0,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.num_tokens,
    }
    name = statement_name(theorem)
    got = extract_lean_block(raw, name)
    code, truncated = got.code, got.truncated or not completion.finished
    if not fmt.chat and not (code and declares(code, name)):
        code = complete_statement(theorem, raw)  # a raw prompt's completion continues the statement
    if not code:
        why = got.reason or "no Lean block in the answer"
        if not completion.finished:
            why += f" (the answer was cut at {completion.num_tokens} tokens)"
        return ProofCandidate("", truncated=truncated, problem=why, **common)
    text, problem = screen_proof(theorem, code)
    return ProofCandidate(text, truncated=truncated, problem=problem, **common)


class WholeProofGenerator:
    """A `ProofGenerator` over a completion backend and a whole-proof prompt format."""

    def __init__(
        self,
        backend: CompletionBackend,
        fmt: ProofFormat,
        *,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> None:
        self.backend = backend
        self.format = fmt
        self.seed = seed  # used when a call gives none
        self.greedy = (temperature if temperature is not None else fmt.temperature) <= 0
        self.usage = SamplingUsage()  # everything this generator sampled
        self._lock = threading.Lock()  # for `usage`: the backend itself is called unlocked (see `BackendSource`)

    def generate(
        self,
        theorems: Sequence[Theorem],
        n: int,
        *,
        feedback: Sequence[ProofFeedback | None] | None = None,
        seed: int | None = None,
    ) -> list[list[ProofCandidate]]:
        if not theorems:
            return []
        if n < 1:
            return [[] for _ in theorems]
        if feedback is not None and len(feedback) != len(theorems):
            raise ValueError(f"{len(feedback)} feedback entries for {len(theorems)} theorems")
        prompts = [self.format.render(t, feedback[i] if feedback else None) for i, t in enumerate(theorems)]
        seeds = [seed if seed is not None else self.seed] * len(prompts)
        raw = self.backend.complete(prompts, 1 if self.greedy else n, seeds)
        out = [[make_proof_candidate(t, c, self.format) for c in per] for t, per in zip(theorems, raw, strict=True)]
        with self._lock:
            for cands in out:
                self.usage.add(cands)
        return out

    def close(self) -> None:
        self.backend.close()


def _decoding(cfg: WholeConfig, fmt: ProofFormat) -> dict[str, Any]:
    """Constructor keywords of a step backend used for whole proofs (the format's published defaults where the
    config leaves a key unset)."""
    return {
        "prompt_format": "plain",  # unused: whole-proof prompts come rendered
        "decoding": "sample",
        "temperature": fmt.temperature if cfg.temperature is None else cfg.temperature,
        "top_p": fmt.top_p if cfg.top_p is None else cfg.top_p,
        "max_new_tokens": fmt.max_new_tokens if cfg.max_new_tokens is None else cfg.max_new_tokens,
        "max_input_tokens": cfg.max_input_tokens,
        "seed": cfg.seed,
    }


def build_proof_generator(cfg: WholeConfig, backends: BackendSource | None = None) -> WholeProofGenerator:
    """The whole-proof generator ``cfg`` describes, its model's backend from ``backends`` (default: loaded
    here, which may take a while and fails with `ModelLoadError`)."""
    fmt = get_proof_format(cfg.prompt_format, cfg.model, cfg.prompt_template)
    opts = _decoding(cfg, fmt)
    backend = (backends or build_here)("whole", cfg, opts, logprobs=True)
    return WholeProofGenerator(backend, fmt, temperature=opts["temperature"], seed=cfg.seed)


def build_completion_backend(cfg: Any, opts: dict[str, Any], *, logprobs: bool = True) -> CompletionBackend:
    """The completion backend of a model config (`WholeConfig`, `CompletionConfig`: ``backend``, the loading
    keys, ``record_path`` / ``replay_path``) with the decoding keywords ``opts`` (see `_decoding`); ``logprobs``:
    an HTTP server is asked for token log-probs.

    With ``replay_path`` no model is loaded: answers come from the recording (`prover.models.record`); with
    ``record_path`` every request and answer is appended to that file."""
    from prover.models.record import RecordingBackend, ReplayBackend

    if cfg.replay_path is not None:
        return ReplayBackend(cfg.replay_path, cfg.model)
    backend: CompletionBackend
    if cfg.backend == "hf":
        from prover.models.hf import HFGenerator

        model, tokenizer = HFGenerator.load(cfg)
        backend = _SkipTooLong(HFGenerator(model, tokenizer, **opts, batch_size=cfg.batch_size))
    elif cfg.backend == "vllm":
        from prover.models.vllm_backend import VLLMGenerator

        backend = VLLMGenerator(VLLMGenerator.load(cfg), **opts, max_model_len=cfg.max_model_len)
    else:
        import os

        from prover.models.openai_client import OpenAIGenerator

        backend = OpenAIGenerator(
            cfg.endpoint,
            cfg.model,
            **opts,
            api="completions",  # requests are chat or completions by the prompt's kind
            api_key=os.environ.get(cfg.api_key_env) or None,
            request_timeout=cfg.request_timeout,
            max_retries=cfg.max_retries,
            max_concurrency=cfg.max_concurrency,
            logprobs=logprobs,
        )
    if cfg.record_path is not None:
        backend = RecordingBackend(backend, cfg.record_path, cfg.model)
    return backend


def text_decoding(cfg: Any) -> dict[str, Any]:
    """Decoding keywords of a `CompletionConfig` (a draft or sketch model)."""
    return {
        "prompt_format": "plain",  # unused: prompts come rendered
        "decoding": "sample",
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "max_new_tokens": cfg.max_new_tokens,
        "max_input_tokens": cfg.max_input_tokens,
        "seed": cfg.seed,
    }


class _SkipTooLong:
    """`HFGenerator.complete` skipping (not truncating) prompts over ``max_input_tokens``: a whole-proof prompt
    cut at its start would lose the header and the statement."""

    def __init__(self, gen: Any) -> None:
        self.gen = gen

    def complete(
        self, prompts: Sequence[str | Messages], n: int, seeds: Sequence[int | None] | None = None
    ) -> list[list[Completion]]:
        return self.gen.complete(prompts, n, seeds, skip_too_long=True)

    def close(self) -> None:
        self.gen.close()
