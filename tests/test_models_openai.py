"""The OpenAI-compatible HTTP client against a local server (127.0.0.1 only) answering OpenAI-shaped
completions with logprobs, as ``vllm serve`` does; and its failures: server down, timeouts, HTTP errors."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prover.models import GenerationError, GeneratorConfig, StepContext, build_generator
from prover.models.openai_client import OpenAIGenerator

# What the fake model answers, per prompt: (text, token logprobs)
ANSWERS = [
    (" linarith\n", [-0.1, -0.2, -0.3]),
    ("nlinarith [sq_nonneg (a - b)]", [-1.0, -1.0, -1.0, -1.0]),
    ("linarith", [-0.5, -0.5]),  # duplicate of the first once whitespace is normalised
    ("sorry", [-0.01]),  # filtered
    ("simp<|im_end|>", [-0.4, -0.4]),
]


class FakeServer:
    """A tiny OpenAI-compatible server; ``mode`` scripts its behaviour for the next requests."""

    def __init__(self):
        self.requests: list[tuple[str, dict, dict]] = []
        self.mode = "ok"
        self.failures_left = 0
        self.finish_reason = "stop"
        self.answers = ANSWERS
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, body, dict(self.headers)))
                if server.mode == "slow":
                    time.sleep(1.5)
                if server.mode == "flaky" and server.failures_left > 0:
                    server.failures_left -= 1
                    return self._send(503, {"error": {"message": "overloaded"}})
                if server.mode == "unauthorized":
                    return self._send(401, {"error": {"message": "invalid api key"}})
                if server.mode == "bad_request":
                    return self._send(400, {"object": "error", "message": "max_tokens is too large"})
                if server.mode == "garbage":
                    return self._send_raw(200, b"<html>not json</html>")
                if server.mode == "too_long" and "long" in json.dumps(body):
                    # vLLM's message (measured with vllm 0.32.0): "This model's maximum context length is N tokens.
                    # However, your prompt contains at least M input tokens, ..."
                    msg = "This model's maximum context length is 4096 tokens. However, your prompt contains 5000."
                    return self._send(400, {"object": "error", "message": msg, "type": "BadRequestError"})
                n = body["n"]
                choices = []
                for i in range(n):
                    text, lps = server.answers[i % len(server.answers)]
                    if self.path.endswith("/chat/completions"):
                        choices.append(
                            {
                                "index": i,
                                "message": {"role": "assistant", "content": text},
                                "logprobs": {"content": [{"token": "t", "logprob": x} for x in lps]},
                                "finish_reason": server.finish_reason,
                            }
                        )
                    else:
                        choices.append(
                            {
                                "index": i,
                                "text": text,
                                "logprobs": {"tokens": ["t"] * len(lps), "token_logprobs": lps},
                                "finish_reason": server.finish_reason,
                            }
                        )
                usage = {"prompt_tokens": 17, "completion_tokens": sum(len(a[1]) for a in server.answers[:n])}
                self._send(
                    200,
                    {
                        "id": "cmpl-1",
                        "object": "text_completion",
                        "model": body["model"],
                        "choices": choices,
                        "usage": usage,
                    },
                )

            def _send(self, code, obj):
                self._send_raw(code, json.dumps(obj).encode())

            def _send_raw(self, code, data):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that gave up (timeout test) leaves a broken pipe behind: not an error here

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_completions_with_logprobs(server, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-test")
    cfg = GeneratorConfig(
        backend="openai",
        endpoint=server.url,
        model="ByteDance-Seed/BFS-Prover-V2-7B",
        decoding="sample",
        temperature=0.7,
        max_new_tokens=64,
        api_key_env="MY_KEY",
    )
    gen = build_generator(cfg)
    assert isinstance(gen, OpenAIGenerator)
    out = gen.generate(["a b : ℝ\n⊢ a ≤ a", "⊢ True"], None, 5)
    assert len(out) == 2 and len(server.requests) == 2
    cands = out[0]
    # sorted by mean log-prob (BFS format), dup and sorry dropped
    assert [c.tactic for c in cands] == ["linarith", "simp<|im_end|>", "nlinarith [sq_nonneg (a - b)]"]
    first = cands[0]
    assert first.logprob == pytest.approx(-0.6) and first.num_tokens == 3
    assert first.mean_logprob == pytest.approx(-0.2)
    path, body, headers = next(r for r in server.requests if r[1]["prompt"].startswith("a b"))
    assert path == "/v1/completions"
    assert body["prompt"] == "a b : ℝ\n⊢ a ≤ a:::"
    assert body["model"] == "ByteDance-Seed/BFS-Prover-V2-7B"
    assert (body["n"], body["max_tokens"], body["temperature"], body["logprobs"]) == (5, 64, 0.7, 1)
    assert "stop" not in body
    assert headers["Authorization"] == "Bearer sk-test"


def test_internlm_format_sends_stop_and_context(server):
    gen = OpenAIGenerator(server.url, "internlm/internlm2_5-step-prover", prompt_format="internlm25")
    out = gen.generate(["⊢ p"], None, 5, contexts=[StepContext("thm", ("intro h",))])
    body = server.requests[0][1]
    assert body["stop"] == ["<|im_end|>"]
    assert body["prompt"].startswith("<|im_start|>user\n---\nNAME: thm\n\n---\nPROOF_BEFORE: intro h\n\n")
    assert "simp" in [c.tactic for c in out[0]]  # the stop string is cut from the text
    assert "Authorization" not in server.requests[0][2]


def test_chat_api(server):
    gen = OpenAIGenerator(server.url, "m", prompt_format="internlm25", api="chat")
    out = gen.generate(["⊢ q"], None, 2)
    path, body, _ = server.requests[0]
    assert path == "/v1/chat/completions"
    assert body["messages"] == [
        {"role": "user", "content": "---\nNAME: \n\n---\nPROOF_BEFORE: \n\n---\nSTATE_BEFORE: ⊢ q\n\n---\nTACTIC: "}
    ]
    assert body["logprobs"] is True
    assert [c.tactic for c in out[0]] == ["linarith", "nlinarith [sq_nonneg (a - b)]"]


def test_each_state_is_sent_with_its_own_seed(server):
    gen = OpenAIGenerator(server.url, "m", seed=1)
    gen.generate(["⊢ r"], None, 1)
    gen.generate(["⊢ r", "⊢ s"], None, 1, contexts=[StepContext(seed=3), StepContext(seed=4)])
    assert server.requests[0][1]["seed"] == 1  # no context: generator.seed
    assert sorted(b["seed"] for _, b, _ in server.requests[1:]) == [3, 4]
    assert "seed" not in OpenAIGenerator(server.url, "m")._body("p", 1)


def test_beam_uses_vllm_extension(server):
    gen = OpenAIGenerator(server.url, "m", decoding="beam", prompt_format="reprover")
    gen.generate(["⊢ r"], None, 3)
    body = server.requests[0][1]
    assert body["use_beam_search"] is True and body["temperature"] == 0.0 and body["n"] == 3


def test_many_states_are_sent_concurrently_and_answers_stay_in_order(server):
    gen = OpenAIGenerator(server.url, "m", max_concurrency=4)
    states = [f"⊢ {i} = {i}" for i in range(10)]
    out = gen.generate(states, None, 1)
    assert len(out) == 10 and all(c[0].tactic == "linarith" for c in out)
    assert sorted(r[1]["prompt"] for r in server.requests) == sorted(states)


def test_server_down_is_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}/v1"
    gen = OpenAIGenerator(url, "m", max_retries=1, retry_backoff=0.01, request_timeout=5)
    t0 = time.monotonic()
    with pytest.raises(GenerationError) as e:
        gen.generate(["⊢ p"], None, 2)
    assert time.monotonic() - t0 < 5
    msg = str(e.value)
    assert "cannot reach the model server" in msg and url in msg and "vllm serve" in msg and "\n" not in msg


def test_timeout_is_a_clear_error(server):
    server.mode = "slow"
    gen = OpenAIGenerator(server.url, "m", request_timeout=0.3, max_retries=3)
    t0 = time.monotonic()
    with pytest.raises(GenerationError, match=r"did not answer within 0.3s"):
        gen.generate(["⊢ p"], None, 2)
    assert time.monotonic() - t0 < 1.4  # a timeout is not retried


def test_retries_on_503_then_succeeds(server):
    server.mode, server.failures_left = "flaky", 2
    gen = OpenAIGenerator(server.url, "m", max_retries=2, retry_backoff=0.01)
    assert gen.generate(["⊢ p"], None, 1)[0][0].tactic == "linarith"
    assert len(server.requests) == 3
    server.failures_left = 5
    with pytest.raises(GenerationError, match="HTTP 503: overloaded"):
        gen.generate(["⊢ p"], None, 1)


@pytest.mark.parametrize(
    ("mode", "pattern"),
    [
        ("unauthorized", r"HTTP 401: invalid api key \(check the API key"),
        ("bad_request", r"HTTP 400: max_tokens is too large"),
        ("garbage", r"not JSON"),
    ],
)
def test_http_errors(server, mode, pattern):
    server.mode = mode
    gen = OpenAIGenerator(server.url, "m", max_retries=0)
    with pytest.raises(GenerationError, match=pattern):
        gen.generate(["⊢ p"], None, 1)


def test_openai_plus_automation(server):
    gen = build_generator(
        GeneratorConfig(backend="openai+automation", endpoint=server.url, model="m", automation=["omega", "linarith"])
    )
    out = gen.generate(["⊢ p"], None, 2)
    assert [c.tactic for c in out[0]] == ["linarith", "nlinarith [sq_nonneg (a - b)]", "omega"]


def test_greedy_asks_for_one_completion(server):
    # vLLM (offline and server) rejects n > 1 at temperature 0: "n must be 1 when using greedy sampling"
    gen = OpenAIGenerator(server.url, "m", decoding="sample", temperature=0.0, top_p=0.9)
    out = gen.generate(["⊢ p"], None, 8)
    body = server.requests[0][1]
    assert body["n"] == 1 and body["temperature"] == 0.0 and body["top_p"] == 1.0
    assert len(out[0]) == 1


def test_a_prompt_over_the_context_is_skipped_not_the_batch(server):
    server.mode = "too_long"
    gen = OpenAIGenerator(server.url, "m")
    out = gen.generate(["⊢ short", "⊢ " + "long " * 10], None, 2)
    assert out[0] and out[1] == [] and gen.skipped_prompts == 1
    server.mode = "bad_request"  # any other 400 is still an error
    with pytest.raises(GenerationError, match="HTTP 400"):
        gen.generate(["⊢ short"], None, 2)


def test_completions_cut_by_max_tokens_are_dropped(server):
    server.finish_reason = "length"
    assert OpenAIGenerator(server.url, "m").generate(["⊢ p"], None, 3) == [[]]


def test_chat_api_refused_for_raw_prompt_formats():
    for fmt in ("bfs", "reprover", "plain"):
        with pytest.raises(ValueError, match="api = 'completions'"):
            OpenAIGenerator("http://127.0.0.1:1/v1", "m", prompt_format=fmt, api="chat")
    with pytest.raises(ValueError, match="raw prompt"):
        GeneratorConfig(backend="openai", model="ByteDance-Seed/BFS-Prover-V2-7B", api="chat")
    assert GeneratorConfig(backend="openai", model="internlm/internlm2_5-step-prover", api="chat").api == "chat"


def test_whole_proofs_through_the_chat_api(server):
    from prover.lean.types import Theorem
    from prover.models import WholeConfig, build_proof_generator

    stmt = "theorem t (a : ℕ) : a + 0 = a := by"
    proof = f"<think>\nsimp closes it\n</think>\n```lean4\nimport Mathlib\n{stmt}\n  simp\n```"
    server.answers = [(proof, [-0.5] * 10), ("no idea", [-1.0, -1.0])]
    gen = build_proof_generator(
        WholeConfig(backend="openai", endpoint=server.url, model="AI-MO/Kimina-Prover-Distill-8B", seed=3)
    )
    out = gen.generate([Theorem("t", stmt, "import Mathlib\n")], 2)
    path, body, _ = server.requests[0]
    assert path == "/v1/chat/completions"
    assert body["messages"][0]["role"] == "system" and body["messages"][1]["content"].endswith(stmt + " sorry")
    # the Kimina-Prover demo's decoding, as published
    assert (body["n"], body["temperature"], body["max_tokens"], body["seed"]) == (2, 0.8, 16000, 3)
    good, bad = out[0]
    assert good.usable and good.text == stmt + "\n  simp" and good.completion_tokens == 10
    assert good.prompt_tokens == 17 and not bad.usable
    assert gen.usage.samples == 2 and gen.usage.prompt_tokens == 17
