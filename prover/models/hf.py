"""Hugging Face transformers backends: `HFGenerator` (encoder-decoder or decoder-only tactic generator, beam
search or sampling) and `HFCritic` (a sequence-classification / regression head over the goal state).

Log-probabilities are always those of the raw model distribution (before temperature / top-p), so that beam
search and sampling give comparable scores and match what vLLM reports. They are computed from the logits
``generate`` returns when that is cheap (small vocabularies such as ByT5's 384 bytes) and otherwise by one
teacher-forced forward pass over the generated tokens in small chunks (large vocabularies, where keeping
``steps x sequences x vocab`` logits would not fit).
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Sequence
from typing import Any

from prover.models.base import Candidate, StepContext, context_seeds
from prover.models.config import BackendConfig, CriticConfig, GeneratorConfig
from prover.models.errors import GenerationError, ModelLoadError
from prover.models.filters import Completion, TacticFilter, select_completions
from prover.models.loading import (
    call_with_timeout,
    dtype_kwarg,
    explain_load_error,
    hub_offline,
    is_oom,
    resolve_device,
    resolve_dtype,
)
from prover.models.prompts import (
    Messages,
    PromptFormat,
    checkpoint_info,
    critic_input,
    decoding_options,
    get_format,
)
from retrieval.base import Premise

log = logging.getLogger(__name__)

# Above this many logits (steps x sequences x vocab) per chunk, log-probs are computed by rescoring.
_MAX_KEPT_LOGITS = 1 << 27  # 512 MiB of float32


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    for src in (getattr(model, "generation_config", None), getattr(model, "config", None)):
        e = getattr(src, "eos_token_id", None) if src is not None else None
        if isinstance(e, int):
            ids.add(e)
        elif isinstance(e, (list, tuple)):
            ids.update(int(x) for x in e)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


def load_hf(
    name: str,
    *,
    kind: str,
    device: str,
    dtype: str,
    tokenizer_name: str | None = None,
    trust_remote_code: bool = False,
    timeout: float = 900.0,
) -> tuple[Any, Any, str]:
    """Load ``(model, tokenizer, device)``; ``kind`` is ``generator`` (seq2seq or causal LM, from the config),
    ``critic`` (sequence classification) or ``reward`` (a reward model's own class through ``AutoModel``, e.g.
    InternLM2.5-StepProver's critic). Fails within ``timeout`` seconds with a one-line `ModelLoadError`."""
    dev = resolve_device(device)
    offline = hub_offline()
    what = "tactic generator" if kind == "generator" else "critic"

    def _load() -> tuple[Any, Any]:
        from transformers import (
            AutoConfig,
            AutoModel,
            AutoModelForCausalLM,
            AutoModelForSeq2SeqLM,
            AutoModelForSequenceClassification,
            AutoTokenizer,
        )

        common = {"trust_remote_code": trust_remote_code, "local_files_only": offline}
        config = AutoConfig.from_pretrained(name, **common)
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_name or name, **common)
        if kind == "critic":
            cls = AutoModelForSequenceClassification
        elif kind == "reward":
            cls = AutoModel
        else:
            cls = AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False) else AutoModelForCausalLM
        model = cls.from_pretrained(name, config=config, **dtype_kwarg(resolve_dtype(dtype, dev)), **common)
        return model.to(dev).eval(), tokenizer

    try:
        model, tokenizer = call_with_timeout(_load, timeout, f"{what} {name!r}")
    except ModelLoadError:
        raise
    except Exception as e:
        raise explain_load_error(e, what, name, dev) from e
    return model, tokenizer, dev


def _release(obj: Any) -> None:
    import gc

    import torch

    obj.model = None
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class HFGenerator:
    """Tactic generator on a Hugging Face model (ReProver's ByT5, InternLM2.5-StepProver, BFS-Prover, ...).

    Build it with `HFGenerator.from_config` or directly from a loaded ``model`` and ``tokenizer``.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        prompt_format: PromptFormat | str = "plain",
        decoding: str = "beam",
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        max_input_tokens: int = 2300,
        length_penalty: float = 0.0,
        rank_by: str = "auto",
        batch_size: int = 8,
        stop: Sequence[str] = (),
        tactic_filter: TacticFilter | None = None,
        score_mode: str = "auto",
        seed: int | None = None,
    ) -> None:
        import torch

        if decoding not in ("beam", "sample"):
            raise ValueError(f"decoding must be 'beam' or 'sample', not {decoding!r}")
        if score_mode not in ("auto", "logits", "rescore"):
            raise ValueError(f"score_mode must be auto, logits or rescore, not {score_mode!r}")
        self.model = model
        self.tokenizer = tokenizer
        self.format = get_format(prompt_format) if isinstance(prompt_format, str) else prompt_format
        self.decoding = decoding
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.max_input_tokens = max_input_tokens
        self.length_penalty = length_penalty
        self.rank_by = self.format.rank_by if rank_by == "auto" else rank_by
        self.batch_size = batch_size
        self.stop = tuple(dict.fromkeys([*self.format.stop, *stop]))
        self.filter = tactic_filter if tactic_filter is not None else TacticFilter()
        self.score_mode = score_mode
        self.device = next(model.parameters()).device
        self.encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
        self._lock = threading.Lock()
        if seed is not None:
            torch.manual_seed(seed)
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token is None:
                raise ModelLoadError("the tokenizer has neither a pad nor an eos token; cannot batch prompts")
            tokenizer.pad_token = tokenizer.eos_token
        if not self.encoder_decoder:
            tokenizer.padding_side = "left"  # generation continues right after the prompt
            tokenizer.truncation_side = "left"  # a long prompt loses its start, never the format's suffix
        self.eos_ids = _eos_ids(model, tokenizer)
        self._fwd_has_position_ids = "position_ids" in inspect.signature(model.forward).parameters

    @classmethod
    def load(cls, cfg: BackendConfig) -> tuple[Any, Any]:
        """``(model, tokenizer)`` of ``cfg`` (fails with a one-line `ModelLoadError`)."""
        model, tokenizer, _ = load_hf(
            cfg.model,
            kind="generator",
            device=cfg.device,
            dtype=cfg.dtype,
            tokenizer_name=cfg.tokenizer,
            trust_remote_code=cfg.trust_remote_code,
            timeout=cfg.load_timeout,
        )
        return model, tokenizer

    @classmethod
    def from_config(cls, cfg: GeneratorConfig) -> HFGenerator:
        model, tokenizer = cls.load(cfg)
        return cls(
            model,
            tokenizer,
            **decoding_options(cfg),
            batch_size=cfg.batch_size,
        )

    def close(self) -> None:
        """Drop the model (and free GPU memory); the generator is unusable afterwards."""
        _release(self)

    # ------------------------------------------------------------------------------------------------
    def prompts(
        self,
        states: Sequence[str],
        premises: Sequence[Sequence[Premise]] | None = None,
        contexts: Sequence[StepContext | None] | None = None,
    ) -> list[str]:
        return self.format.render_all(states, premises, contexts, max_len=self.max_input_tokens)

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
        prompts = self.prompts(states, premises, contexts)
        raw = self.complete(prompts, n, context_seeds(contexts, len(prompts), None))
        return select_completions(raw, n, extract=self.format.extract, rank_by=self.rank_by, tactic_filter=self.filter)

    def complete(
        self,
        prompts: Sequence[str | Messages],
        n: int,
        seeds: Sequence[int | None] | None = None,
        *,
        skip_too_long: bool = False,
    ) -> list[list[Completion]]:
        """Up to ``n`` raw completions per prompt. Chat messages go through the model's chat template (which
        brings its own special tokens). A prompt longer than ``max_input_tokens`` loses its start (step
        prompts keep the state's end), or is skipped with ``skip_too_long`` (no completions).

        transformers samples from torch's global RNG: a prompt's samples depend only on its own seed when it is
        sampled alone, right after seeding. Seeded sampling therefore sends one prompt per model call (its
        ``n`` samples still form one batch); beam search and unseeded sampling batch prompts together."""
        import torch

        texts, special = self._texts(prompts)
        seeds = list(seeds) if seeds is not None else [None] * len(texts)
        out: list[list[Completion]] = [[] for _ in texts]
        keep = list(range(len(texts)))
        if skip_too_long:
            lengths = [len(ids) for ids in self.tokenizer(texts, add_special_tokens=special)["input_ids"]]
            keep = [i for i in keep if lengths[i] <= self.max_input_tokens]
            for i in sorted(set(range(len(texts))) - set(keep)):
                log.warning("prompt of %d tokens over max_input_tokens %d: skipped", lengths[i], self.max_input_tokens)
        seeded = self.decoding == "sample" and any(seeds[i] is not None for i in keep)
        step = 1 if seeded else self.batch_size
        with self._lock:
            for a in range(0, len(keep), step):
                idx = keep[a : a + step]
                if seeded and seeds[idx[0]] is not None:
                    torch.manual_seed(seeds[idx[0]])
                got = self._generate_oom_safe([texts[i] for i in idx], n, special)
                for i, g in zip(idx, got, strict=True):
                    out[i] = g
        return out

    def _texts(self, prompts: Sequence[str | Messages]) -> tuple[list[str], bool]:
        chats = [p for p in prompts if not isinstance(p, str)]
        if not chats:
            return [p for p in prompts if isinstance(p, str)], True
        if len(chats) != len(prompts):
            raise ValueError("a batch mixes chat messages and raw text prompts")
        texts = [
            self.tokenizer.apply_chat_template(list(p), tokenize=False, add_generation_prompt=True) for p in chats
        ]
        return texts, False

    def _generate_oom_safe(self, prompts: list[str], n: int, special: bool = True) -> list[list[Completion]]:
        """Generate; on out-of-memory, halve the batch and retry (a single prompt that does not fit fails)."""
        import torch

        try:
            return self._generate_batch(prompts, n, special)
        except Exception as e:
            if not is_oom(e):
                raise
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            if len(prompts) == 1:
                raise GenerationError(
                    f"out of memory generating {n} tactics on {self.device}: lower generator.num_samples, "
                    "max_new_tokens or max_input_tokens"
                ) from e
            half = len(prompts) // 2
            log.warning("out of memory on a batch of %d prompts; retrying in halves", len(prompts))
            return self._generate_oom_safe(prompts[:half], n, special) + self._generate_oom_safe(
                prompts[half:], n, special
            )

    def _generate_batch(self, prompts: list[str], n: int, special: bool = True) -> list[list[Completion]]:
        import torch

        enc = self.tokenizer(
            prompts,
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_input_tokens,
            add_special_tokens=special,
        ).to(self.device)
        mcfg = self.model.config
        vocab = int(getattr(mcfg.get_text_config() if hasattr(mcfg, "get_text_config") else mcfg, "vocab_size", 0))
        greedy = self.decoding == "sample" and self.temperature <= 0
        per = 1 if greedy else n
        rows = len(prompts) * per
        keep_logits = self.score_mode == "logits" or (
            self.score_mode == "auto" and rows * self.max_new_tokens * vocab <= _MAX_KEPT_LOGITS
        )
        kw: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "num_return_sequences": per,
            "return_dict_in_generate": True,
            "output_logits": keep_logits,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if self.eos_ids:
            kw["eos_token_id"] = sorted(self.eos_ids)
        if self.decoding == "beam":
            kw.update(num_beams=n, do_sample=False, length_penalty=self.length_penalty, early_stopping=False)
        elif greedy:
            kw.update(num_beams=1, do_sample=False)
        else:
            kw.update(num_beams=1, do_sample=True, temperature=self.temperature, top_p=self.top_p, top_k=0)
        if self.stop:
            kw.update(stop_strings=list(self.stop), tokenizer=self.tokenizer)
        with torch.inference_mode():
            out = self.model.generate(**enc, **kw)
        seqs = out.sequences
        prompt_len = 0 if self.encoder_decoder else enc["input_ids"].shape[1]
        gen = seqs[:, 1:] if self.encoder_decoder else seqs[:, prompt_len:]
        lengths = self._lengths(gen)
        ended_by_eos = self._has_eos(gen)
        with torch.inference_mode():
            if keep_logits:
                token_lp = self.model.compute_transition_scores(
                    seqs, out.logits, getattr(out, "beam_indices", None), normalize_logits=True
                )
                token_lp = token_lp[:, : gen.shape[1]].float()
            else:
                token_lp = self._rescore(enc, seqs, gen, per)
        prompt_tokens = enc["attention_mask"].sum(1).tolist()
        results: list[list[Completion]] = []
        for p in range(len(prompts)):
            group = []
            for j in range(per):
                r = p * per + j
                k = int(lengths[r])
                text = self.tokenizer.decode(gen[r, :k], skip_special_tokens=True)
                # a stop string may be a special token (<|im_end|>): look for it with special tokens kept
                with_special = self.tokenizer.decode(gen[r, :k], skip_special_tokens=False) if self.stop else text
                stopped = [i for i in (with_special.find(s) for s in self.stop) if i >= 0]
                if stopped:
                    text = with_special[: min(stopped)]
                    for special in self.tokenizer.all_special_tokens:
                        text = text.replace(special, "")
                ended = bool(ended_by_eos[r]) or bool(stopped)
                lp = float(token_lp[r, :k].sum())
                group.append(Completion(text, lp, k, ended, int(prompt_tokens[p])))
            results.append(group)
        return results

    def _has_eos(self, gen: Any) -> Any:
        """Per row: did generation end with an EOS (rather than at ``max_new_tokens``)?"""
        import torch

        if not self.eos_ids or gen.shape[1] == 0:
            return torch.zeros(gen.shape[0], dtype=torch.bool)
        return torch.isin(gen, torch.tensor(sorted(self.eos_ids), device=gen.device)).any(1).cpu()

    def _lengths(self, gen: Any) -> Any:
        """Generated tokens per row, up to and including the first EOS."""
        import torch

        steps = gen.shape[1]
        if not self.eos_ids or steps == 0:
            return torch.full((gen.shape[0],), steps)
        is_eos = torch.isin(gen, torch.tensor(sorted(self.eos_ids), device=gen.device))
        first = is_eos.float().argmax(1) + 1  # argmax finds the first maximum
        return torch.where(is_eos.any(1), first, torch.full_like(first, steps)).cpu()

    def _rescore(self, enc: Any, seqs: Any, gen: Any, per: int, chunk: int = 4) -> Any:
        """Raw-model log-prob of each generated token, by teacher forcing (a few rows at a time)."""
        import torch

        rows, steps = gen.shape
        out = torch.zeros(rows, steps, dtype=torch.float32, device=gen.device)
        if steps == 0:
            return out
        mask_prompt = enc["attention_mask"].repeat_interleave(per, dim=0)
        for a in range(0, rows, chunk):
            b = min(rows, a + chunk)
            if self.encoder_decoder:
                logits = self.model(
                    input_ids=enc["input_ids"].repeat_interleave(per, dim=0)[a:b],
                    attention_mask=mask_prompt[a:b],
                    decoder_input_ids=seqs[a:b, :-1],
                ).logits
            else:
                ids = seqs[a:b]
                mask = torch.cat([mask_prompt[a:b], torch.ones_like(gen[a:b])], dim=1)
                kw: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
                if self._fwd_has_position_ids:
                    kw["position_ids"] = (mask.long().cumsum(-1) - 1).clamp(min=0)
                p0 = seqs.shape[1] - steps
                logits = self.model(**kw).logits[:, p0 - 1 : -1]
            lp = torch.log_softmax(logits.float(), dim=-1)
            out[a:b] = lp.gather(-1, gen[a:b].unsqueeze(-1)).squeeze(-1)
        return out


def critic_kind(config: Any) -> str:
    """``reward`` for a checkpoint whose architecture is a reward model (``InternLM2ForRewardModel``),
    else ``classifier``."""
    archs = getattr(config, "architectures", None) or []
    return "reward" if any(str(a).endswith("RewardModel") for a in archs) else "classifier"


class HFCritic:
    """A learned critic scoring goal states (higher = more promising).

    ``classifier``: a sequence-classification model over the state text; one output (regression) is the score
    itself, several classes give the probability of the last class (e.g. "provable"). ``negate`` turns a
    distance-to-``no goals`` regressor into higher-is-better.

    ``reward``: a reward model with its own code, scored as its model card does
    (``internlm/internlm2_5-step-prover-critic``: ``AutoModel`` + ``trust_remote_code``, ``model.get_score``):
    the chat "user: ``reward_question``, assistant: the state" through the tokenizer's chat template, the
    model's ``reward_token_id`` appended, one score per chat (its first output, one value per sequence, read at
    the last real token: sequences are right-padded with an attention mask, as reward-bench batches them).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        batch_size: int = 16,
        max_input_tokens: int = 2048,
        prompt_template: str = "{state}",
        negate: bool = False,
        kind: str = "classifier",
        reward_question: str = "Which state is closer to 'no goals'?",
    ) -> None:
        if kind not in ("classifier", "reward"):
            raise ValueError(f"critic kind must be 'classifier' or 'reward', not {kind!r}")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_input_tokens = max_input_tokens
        self.prompt_template = prompt_template
        self.negate = negate
        self.kind = kind
        self.reward_question = reward_question
        self.reward_token_id: int | None = None
        if kind == "reward":
            rid = getattr(model.config, "reward_token_id", None)
            if not isinstance(rid, int):
                raise ModelLoadError("a reward-model critic needs reward_token_id in its config (none found)")
            self.reward_token_id = rid
        self.device = next(model.parameters()).device
        self._lock = threading.Lock()
        if tokenizer.pad_token_id is None and tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        if getattr(model.config, "pad_token_id", None) is None and tokenizer.pad_token_id is not None:
            model.config.pad_token_id = tokenizer.pad_token_id  # decoder-only heads find the last token by it

    @classmethod
    def from_config(cls, cfg: CriticConfig) -> HFCritic:
        if not cfg.model:
            raise ModelLoadError("critic.backend = 'hf' needs critic.model (a hub id or a local folder)")
        kind = cfg.kind
        if kind == "auto":
            kind = _checkpoint_critic_kind(cfg.model, cfg.trust_remote_code)
        model, tokenizer, _ = load_hf(
            cfg.model,
            kind="critic" if kind == "classifier" else "reward",
            device=cfg.device,
            dtype=cfg.dtype,
            trust_remote_code=cfg.trust_remote_code,
            timeout=cfg.load_timeout,
        )
        template = cfg.prompt_template
        if template == "{state}":  # a `prover train critic` checkpoint knows the template it was trained with
            template = checkpoint_info(cfg.model).get("critic_prompt_template") or template
        return cls(
            model,
            tokenizer,
            batch_size=cfg.batch_size,
            max_input_tokens=cfg.max_input_tokens,
            prompt_template=template,
            negate=cfg.negate,
            kind=kind,
            reward_question=cfg.reward_question,
        )

    def close(self) -> None:
        _release(self)

    def score(self, states: Sequence[str]) -> list[float]:
        if self.kind == "reward":
            return self._score_reward(states)
        import torch

        scores: list[float] = []
        texts = [critic_input(s, self.prompt_template) for s in states]
        with self._lock, torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                enc = self.tokenizer(
                    texts[i : i + self.batch_size],
                    return_tensors="pt",
                    padding=True,
                    truncation=True,
                    max_length=self.max_input_tokens,
                ).to(self.device)
                try:
                    logits = self.model(**enc).logits.float()
                except Exception as e:
                    if is_oom(e):
                        raise GenerationError(
                            f"out of memory scoring {len(texts[i : i + self.batch_size])} states on {self.device}: "
                            "lower critic.batch_size or max_input_tokens"
                        ) from e
                    raise
                vals = logits[:, 0] if logits.shape[-1] == 1 else torch.softmax(logits, dim=-1)[:, -1]
                scores.extend(float(-v if self.negate else v) for v in vals.cpu())
        return scores

    def reward_input(self, state: str) -> list[int]:
        """The token ids a reward-model critic scores for ``state`` (chat template + reward token)."""
        chat = [
            {"role": "user", "content": self.reward_question},
            {"role": "assistant", "content": critic_input(state, self.prompt_template)},
        ]
        text = self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=False)
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])[-(self.max_input_tokens - 1) :]
        if not ids or ids[-1] != self.reward_token_id:
            ids.append(int(self.reward_token_id or 0))
        return ids

    def _score_reward(self, states: Sequence[str]) -> list[float]:
        import torch

        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        scores: list[float] = []
        with self._lock, torch.inference_mode():
            for i in range(0, len(states), self.batch_size):
                rows = [self.reward_input(s) for s in states[i : i + self.batch_size]]
                width = max(len(r) for r in rows)
                ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=self.device)
                mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=self.device)
                try:
                    out = self.model(input_ids=ids, attention_mask=mask)
                except Exception as e:
                    if is_oom(e):
                        raise GenerationError(
                            f"out of memory scoring {len(rows)} states on {self.device}: lower critic.batch_size"
                        ) from e
                    raise
                first = out[0] if isinstance(out, (tuple, list)) else out.logits
                vals = first.float().reshape(len(rows), -1)[:, -1]
                scores.extend(float(-v if self.negate else v) for v in vals.cpu())
        return scores


def _checkpoint_critic_kind(name: str, trust_remote_code: bool) -> str:
    """`critic_kind` of a checkpoint's config (``classifier`` when the config cannot be read here: loading
    then fails with the real reason)."""
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(name, trust_remote_code=trust_remote_code, local_files_only=hub_offline())
    except Exception:  # noqa: BLE001 - the load reports it
        return "classifier"
    return critic_kind(config)
