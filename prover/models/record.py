"""Record / replay of model requests: a run's model answers kept in JSONL, re-run offline without the model.

This is the model side of `prover.lean.record` (the REPL side), at the level of the `CompletionBackend` that
whole-proof, draft and sketch generation all go through, so every text a model wrote for a run can be replayed:
for tests (scripted answers), for bug reports (the exact answers that led to a failure) and to re-run the Lean
side of a run (masking, repair, the gate) without a GPU.

Recording (``record_path`` of ``[whole]`` / ``[sketch.draft]`` / ``[sketch.sketch]``): each prompt of a
`complete` call is one line ``{"request": {"kind": "completion", "model": M, "prompt": P, "n": N, "seed": S},
"response": {"completions": [{"text", "logprob", "num_tokens", "finished", "prompt_tokens"}, ...]},
"seconds": t}``, or ``"error": {"type", "message"}`` when the backend raised. Lines are appended with the
REPL recorder's single-write appends, so several models, threads and processes can share one file.

Replay (``replay_path``): `ReplayBackend` answers each request with the recorded answer of the same request
(same model, prompt, ``n`` and seed); the k-th time it is asked with the k-th recorded answer, the last one
again once they run out. A recorded error is raised again as `GenerationError`; a request that was never
recorded raises `ModelReplayMismatch` (the attempt ends with status ``error``: the recording does not cover
this run). No model is loaded. Lines of other kinds in the file (e.g. REPL requests) are skipped.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prover.lean.record import Answers, get_recorder, read_records
from prover.models.errors import GenerationError
from prover.models.filters import Completion
from prover.models.prompts import Messages

KIND = "completion"


class ModelReplayMismatch(GenerationError):
    """A replayed run asked a model for something the recording does not contain."""


def request_of(model: str, prompt: str | Messages, n: int, seed: int | None) -> dict[str, Any]:
    return {"kind": KIND, "model": model, "prompt": prompt, "n": n, "seed": seed}


def _key(req: dict[str, Any]) -> str:
    return json.dumps(req, sort_keys=True, ensure_ascii=False)


class RecordingBackend:
    """A `CompletionBackend` that appends every request and answer of ``inner`` to ``path``."""

    def __init__(self, inner: Any, path: str | Path, model: str) -> None:
        self.inner = inner
        self.model = model
        self.recorder = get_recorder(path)

    def complete(
        self, prompts: Sequence[str | Messages], n: int, seeds: Sequence[int | None] | None = None
    ) -> list[list[Completion]]:
        seeds = list(seeds) if seeds is not None else [None] * len(prompts)
        t0 = time.monotonic()
        try:
            out = self.inner.complete(prompts, n, seeds)
        except Exception as e:
            for p, s in zip(prompts, seeds, strict=True):
                self.recorder.write(request_of(self.model, p, n, s), error=e, seconds=time.monotonic() - t0)
            raise
        seconds = (time.monotonic() - t0) / max(1, len(prompts))
        for p, s, got in zip(prompts, seeds, out, strict=True):
            answer = {"completions": [c._asdict() for c in got]}
            self.recorder.write(request_of(self.model, p, n, s), response=answer, seconds=seconds)
        return out

    def close(self) -> None:
        self.inner.close()


class ReplayBackend:
    """A `CompletionBackend` answering from a recording (see the module docstring); thread-safe."""

    def __init__(self, path: str | Path, model: str) -> None:
        self.path = Path(path)
        self.model = model
        if not self.path.is_file():
            raise GenerationError(f"model replay file not found: {self.path}")
        self._answers = Answers()
        self._lock = threading.Lock()
        for n, rec, req in read_records(self.path, GenerationError):
            if not isinstance(req, dict) or req.get("kind") != KIND:
                continue
            if "error" not in rec and not isinstance((rec.get("response") or {}).get("completions"), list):
                raise GenerationError(f"{self.path}:{n}: a model answer without a 'completions' list")
            self._answers.add(_key(req), rec)
        self.requests = 0

    def complete(
        self, prompts: Sequence[str | Messages], n: int, seeds: Sequence[int | None] | None = None
    ) -> list[list[Completion]]:
        seeds = list(seeds) if seeds is not None else [None] * len(prompts)
        return [self._one(p, n, s) for p, s in zip(prompts, seeds, strict=True)]

    def _one(self, prompt: str | Messages, n: int, seed: int | None) -> list[Completion]:
        rec = self._answers.take(_key(request_of(self.model, prompt, n, seed)))
        if rec is None:
            shown = prompt if isinstance(prompt, str) else (prompt[-1].get("content", "") if prompt else "")
            raise ModelReplayMismatch(
                f"model request not in the recording {self.path} (model {self.model}, n={n}, seed={seed}): "
                f"{' '.join(str(shown).split())[:200]}"
            )
        with self._lock:
            self.requests += 1
        if "error" in rec:
            raise GenerationError(f"[replayed] {rec['error'].get('message', '')}")
        return [
            Completion(
                str(c.get("text", "")),
                float(c.get("logprob", 0.0)),
                int(c.get("num_tokens", 0)),
                bool(c.get("finished", True)),
                int(c.get("prompt_tokens", 0)),
            )
            for c in rec["response"]["completions"]
        ]

    def close(self) -> None:
        pass


def record_line(
    model: str, prompt: str | Messages, completions: Sequence[str | Completion], n: int | None = None,
    seed: int | None = None,
) -> str:
    """One recording line answering ``prompt`` with ``completions`` (texts or `Completion`s): for tests and for
    writing scripted model answers by hand."""
    got = [c if isinstance(c, Completion) else Completion(c, 0.0, len(c.split()), True, 0) for c in completions]
    req = request_of(model, prompt, len(got) if n is None else n, seed)
    rec = {"request": req, "response": {"completions": [c._asdict() for c in got]}, "seconds": 0.0}
    return json.dumps(rec, ensure_ascii=False) + "\n"
