"""A tactic generator behind an OpenAI-compatible HTTP server: ``vllm serve MODEL``, or any hosted model.

``/v1/completions`` (default) sends the step prover's raw prompt and asks for ``n`` completions with
``logprobs``; ``/v1/chat/completions`` (``api = "chat"``) sends the prompt's user message and lets the server
apply the model's chat template (refused for raw-prompt formats such as ``bfs``: their models never saw one).
States of one batch are sent as concurrent requests (the server batches them). With ``decoding = "beam"`` the
request carries vLLM's ``use_beam_search`` extension. Greedy sampling asks for one completion (vLLM's server
rejects ``n > 1`` at temperature 0); a prompt the server rejects as longer than the model's context gets no
candidates (logged, counted in ``skipped_prompts``) instead of failing the batch.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from prover.models.base import Candidate, StepContext, context_seeds
from prover.models.config import GeneratorConfig
from prover.models.errors import GenerationError
from prover.models.filters import Completion, TacticFilter, select_completions
from prover.models.prompts import Messages, PromptFormat, decoding_options, get_format
from retrieval.base import Premise

log = logging.getLogger(__name__)

_RETRY_STATUS = (429, 500, 502, 503, 504)
# how vLLM's server (and OpenAI's) word a prompt that does not fit the model's context
_TOO_LONG = ("maximum context length", "context length", "longer than the maximum", "max_model_len", "too long")


class PromptTooLong(GenerationError):
    """The server refused a prompt as longer than the model's context (only that prompt is affected)."""


def _error_text(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return " ".join(resp.text.split())[:200] or resp.reason_phrase
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("detail") or err)[:300]
        return str(err)[:300]
    return str(body)[:300]


class OpenAIGenerator:
    def __init__(
        self,
        endpoint: str,
        model: str,
        *,
        prompt_format: PromptFormat | str = "plain",
        api: str = "completions",
        api_key: str | None = None,
        decoding: str = "sample",
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        max_input_tokens: int = 2300,
        length_penalty: float = 0.0,
        rank_by: str = "auto",
        stop: Sequence[str] = (),
        tactic_filter: TacticFilter | None = None,
        request_timeout: float = 120.0,
        max_retries: int = 2,
        retry_backoff: float = 0.5,
        max_concurrency: int = 16,
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
        logprobs: bool = True,
    ) -> None:
        if api not in ("completions", "chat"):
            raise ValueError(f"api must be 'completions' or 'chat', not {api!r}")
        self.endpoint = endpoint.rstrip("/")
        self.model = model
        self.format = get_format(prompt_format) if isinstance(prompt_format, str) else prompt_format
        if api == "chat" and not self.format.chat:
            raise ValueError(
                f"api = 'chat' would wrap the raw prompt format {self.format.name!r} in the server's chat "
                "template; use api = 'completions'"
            )
        self.api = api
        self.decoding = decoding
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.max_input_tokens = max_input_tokens
        self.length_penalty = length_penalty
        self.rank_by = self.format.rank_by if rank_by == "auto" else rank_by
        self.stop = list(dict.fromkeys([*self.format.stop, *stop]))
        self.filter = tactic_filter if tactic_filter is not None else TacticFilter()
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.max_concurrency = max_concurrency
        self.seed = seed
        self.logprobs = logprobs  # off for text models whose API refuses them (some hosted reasoning models)
        self.skipped_prompts = 0
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=request_timeout, headers=headers, transport=transport)

    @classmethod
    def from_config(cls, cfg: GeneratorConfig) -> OpenAIGenerator:
        return cls(
            cfg.endpoint,
            cfg.model,
            **decoding_options(cfg),
            api=cfg.api,
            api_key=os.environ.get(cfg.api_key_env) or None,
            request_timeout=cfg.request_timeout,
            max_retries=cfg.max_retries,
            max_concurrency=cfg.max_concurrency,
        )

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------------------------------------
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
        prompts = self.format.render_all(
            states, premises, contexts, max_len=self.max_input_tokens, chat=self.api == "chat"
        )
        seeds = context_seeds(contexts, len(prompts), self.seed)
        if self.api == "chat":
            raw = self.complete([[{"role": "user", "content": p}] for p in prompts], n, seeds)
        else:
            raw = self.complete(prompts, n, seeds)
        return select_completions(raw, n, extract=self.format.extract, rank_by=self.rank_by, tactic_filter=self.filter)

    def complete(
        self, prompts: Sequence[str | Messages], n: int, seeds: Sequence[int | None] | None = None
    ) -> list[list[Completion]]:
        """Raw completions per prompt: text prompts to ``/completions``, chat messages to ``/chat/completions``
        (concurrently, each with its own seed); a prompt the server finds too long gets none."""
        seeds = list(seeds) if seeds is not None else [self.seed] * len(prompts)
        if len(prompts) == 1:
            return [self._one_or_skip(prompts[0], n, seeds[0])]
        with ThreadPoolExecutor(min(self.max_concurrency, len(prompts))) as pool:
            return list(pool.map(lambda ps: self._one_or_skip(ps[0], n, ps[1]), zip(prompts, seeds, strict=True)))

    def _one_or_skip(self, prompt: str | Messages, n: int, seed: int | None) -> list[Completion]:
        try:
            return self._one(prompt, n, seed)
        except PromptTooLong as e:
            self.skipped_prompts += 1
            log.warning("%s: prompt skipped (its state gets no candidates)", e)
            return []

    def _body(self, prompt: str | Messages, n: int, seed: int | None = None) -> dict[str, Any]:
        greedy = self.decoding != "beam" and self.temperature <= 0
        body: dict[str, Any] = {"model": self.model, "n": 1 if greedy else n, "max_tokens": self.max_new_tokens}
        if isinstance(prompt, str):
            body.update(prompt=prompt, **({"logprobs": 1} if self.logprobs else {}))
        else:
            body.update(messages=list(prompt), **({"logprobs": True} if self.logprobs else {}))
        if self.decoding == "beam":
            body.update(use_beam_search=True, temperature=0.0, length_penalty=self.length_penalty)
        else:
            body.update(temperature=self.temperature, top_p=1.0 if greedy else self.top_p)
        if self.stop:
            body["stop"] = self.stop
        if seed is not None:
            body["seed"] = seed
        return body

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.endpoint}{path}"
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                resp = self._client.post(url, json=body)
            except httpx.TimeoutException as e:
                raise GenerationError(
                    f"the model server at {url} did not answer within {self.request_timeout:g}s "
                    "(generator.request_timeout)"
                ) from e
            except httpx.TransportError as e:
                if last:
                    raise GenerationError(
                        f"cannot reach the model server at {url} ({type(e).__name__}: {e}); start one "
                        "(e.g. `vllm serve MODEL`) or set generator.endpoint"
                    ) from e
                time.sleep(self.retry_backoff * 2**attempt)
                continue
            if resp.status_code in _RETRY_STATUS and not last:
                log.warning("model server answered HTTP %d; retrying", resp.status_code)
                time.sleep(self.retry_backoff * 2**attempt)
                continue
            if resp.status_code == 400 and any(k in _error_text(resp).lower() for k in _TOO_LONG):
                raise PromptTooLong(f"model server {url}: {_error_text(resp)}")
            if resp.status_code >= 400:
                hint = " (check the API key in the variable named by generator.api_key_env)"
                raise GenerationError(
                    f"model server {url} answered HTTP {resp.status_code}: {_error_text(resp)}"
                    + (hint if resp.status_code in (401, 403) else "")
                )
            try:
                data = resp.json()
            except ValueError as e:
                raise GenerationError(f"model server {url} answered something that is not JSON") from e
            if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
                raise GenerationError(f"model server {url} answered JSON without a 'choices' list")
            return data
        raise AssertionError("unreachable")

    def _one(self, prompt: str | Messages, n: int, seed: int | None = None) -> list[Completion]:
        chat = not isinstance(prompt, str)
        data = self._post("/chat/completions" if chat else "/completions", self._body(prompt, n, seed))
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        out = []
        for choice in sorted(data["choices"], key=lambda c: c.get("index", 0)):
            if chat:
                text = (choice.get("message") or {}).get("content") or ""
                entries = (choice.get("logprobs") or {}).get("content") or []
                lps = [e.get("logprob") for e in entries]
            else:
                text = choice.get("text") or ""
                lps = (choice.get("logprobs") or {}).get("token_logprobs") or []
            lps = [float(x) for x in lps if x is not None]
            finished = choice.get("finish_reason") != "length"
            out.append(Completion(text, sum(lps), len(lps), finished, prompt_tokens))
        return out
