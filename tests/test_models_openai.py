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
                n = body["n"]
                choices = []
                for i in range(n):
                    text, lps = ANSWERS[i % len(ANSWERS)]
                    if self.path.endswith("/chat/completions"):
                        choices.append(
                            {
                                "index": i,
                                "message": {"role": "assistant", "content": text},
                                "logprobs": {"content": [{"token": "t", "logprob": x} for x in lps]},
                                "finish_reason": "stop",
                            }
                        )
                    else:
                        choices.append(
                            {
                                "index": i,
                                "text": text,
                                "logprobs": {"tokens": ["t"] * len(lps), "token_logprobs": lps},
                                "finish_reason": "stop",
                            }
                        )
                self._send(
                    200, {"id": "cmpl-1", "object": "text_completion", "model": body["model"], "choices": choices}
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
