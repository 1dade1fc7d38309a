"""Recording and replaying model requests (`prover.models.record`) at the completion-backend level: a recorded
run's answers come back for the same requests, in order, without loading a model."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from prover.config import load_config
from prover.errors import UserError
from prover.lean.types import Theorem
from prover.models.config import CompletionConfig, WholeConfig
from prover.models.errors import GenerationError
from prover.models.filters import Completion
from prover.models.prompts import get_proof_format
from prover.models.record import ModelReplayMismatch, RecordingBackend, ReplayBackend, record_line
from prover.models.whole import build_completion_backend, build_proof_generator, text_decoding


class Counting:
    """A backend whose k-th answer to a prompt is ``f"{prompt}#{k}"``."""

    def __init__(self) -> None:
        self.calls = 0
        self.closed = False
        self.lock = threading.Lock()

    def complete(self, prompts, n, seeds=None):
        with self.lock:
            self.calls += 1
            k = self.calls
        if any(p == "boom" for p in prompts):
            raise GenerationError("server down")
        return [[Completion(f"{p if isinstance(p, str) else p[-1]['content']}#{k}.{i}", -1.5, 3, True, 7)
                 for i in range(n)] for p in prompts]

    def close(self) -> None:
        self.closed = True


def test_record_then_replay_gives_the_same_answers_in_order(tmp_path: Path) -> None:
    path = tmp_path / "rec" / "models.jsonl"
    rec = RecordingBackend(Counting(), path, "m")
    chat = [{"role": "user", "content": "hi"}]
    first = rec.complete(["a", chat], 2, [1, 1])
    second = rec.complete(["a"], 2, [1])
    with pytest.raises(GenerationError):
        rec.complete(["boom"], 1, [None])
    rec.close()
    assert rec.inner.closed
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["request"]["prompt"] for x in lines] == ["a", chat, "a", "boom"]
    assert lines[-1]["error"]["type"] == "GenerationError" and "response" not in lines[-1]

    rep = ReplayBackend(path, "m")
    assert rep.complete(["a", chat], 2, [1, 1]) == first
    assert rep.complete(["a"], 2, [1]) == second
    assert rep.complete(["a"], 2, [1]) == second  # past the last answer: the last one again
    with pytest.raises(GenerationError, match="server down"):
        rep.complete(["boom"], 1, [None])
    # another model, n or seed is another request
    for args in ((["a"], 1, [1]), (["a"], 2, [2])):
        with pytest.raises(ModelReplayMismatch, match="not in the recording"):
            rep.complete(*args)
    with pytest.raises(ModelReplayMismatch):
        ReplayBackend(path, "other").complete(["a"], 2, [1])


def test_replay_file_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(GenerationError, match="not found"):
        ReplayBackend(tmp_path / "none.jsonl", "m")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"request": {"kind": "completion"}, "response": {}}\n')
    with pytest.raises(GenerationError, match="bad.jsonl:1"):
        ReplayBackend(bad, "m")
    # REPL lines sharing the file are skipped
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"request": {"cmd": "theorem x"}, "response": {"env": 0}}\n' + record_line("m", "p", ["ok"]))
    assert ReplayBackend(mixed, "m").complete(["p"], 1)[0][0].text == "ok"


def test_configs_build_replay_backends_without_loading_a_model(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    t = Theorem("t", "theorem t : 1 + 1 = 2 := by")
    cfg = WholeConfig(backend="vllm", model="Goedel-LM/Goedel-Prover-V2-8B", replay_path=path)
    prompt = get_proof_format("goedel-v2").render(t)
    answer = "```lean4\ntheorem t : 1 + 1 = 2 := by\n  norm_num\n```"
    path.write_text(record_line(cfg.model, prompt, [answer] * 8, seed=None))
    gen = build_proof_generator(cfg)  # a vLLM config, but nothing is loaded
    cands = gen.generate([t], 8)[0]
    assert len(cands) == 8 and cands[0].usable and cands[0].text.endswith("norm_num")
    c2 = CompletionConfig(model="some/reasoner", replay_path=path)
    assert isinstance(build_completion_backend(c2, text_decoding(c2)), ReplayBackend)
    with pytest.raises(UserError, match="not both"):
        load_config(overrides={"whole.record_path": "a.jsonl", "whole.replay_path": "b.jsonl"})


def test_text_models_ask_http_servers_for_no_logprobs() -> None:
    from prover.models.openai_client import OpenAIGenerator

    c = CompletionConfig(model="some/reasoner")
    gen = build_completion_backend(c, text_decoding(c), logprobs=c.logprobs)
    assert isinstance(gen, OpenAIGenerator)
    body = gen._body([{"role": "user", "content": "hi"}], 2, 7)
    assert "logprobs" not in body and body["n"] == 2 and body["seed"] == 7 and body["temperature"] == 0.6
    whole = OpenAIGenerator("http://x/v1", "m")
    assert whole._body("p", 1)["logprobs"] == 1
    gen.close()
    whole.close()
