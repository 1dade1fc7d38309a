"""GPU backends and real checkpoints (marked ``gpu``: skipped without CUDA).

The vLLM tests serve a tiny GPT-2 built here (no download); the real-checkpoint test needs ReProver's
generator already in the local Hugging Face cache.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from prover.models import GeneratorConfig, build_generator  # noqa: E402

pytestmark = pytest.mark.gpu

STATES = ["n : ℕ\n⊢ n + 0 = n", "⊢ True", "a b : ℝ\nh : a < b\n⊢ a ≤ b"]


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory):
    from test_models_hf import tiny_gpt2

    model, tok = tiny_gpt2(eos_bias=1.3)
    d = tmp_path_factory.mktemp("tiny-gpt2-gpu")
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def vllm_generator(gpt2_folder):
    pytest.importorskip("vllm")
    gen = build_generator(
        GeneratorConfig(
            backend="vllm",
            model=str(gpt2_folder),
            prompt_format="bfs",
            decoding="sample",
            max_new_tokens=16,
            gpu_memory_utilization=0.3,
            max_model_len=256,
            banned=[],
            seed=0,
        )
    )
    yield gen
    gen.close()


def test_vllm_sampling_with_logprobs(vllm_generator):
    out = vllm_generator.generate(STATES, None, 8)
    assert len(out) == 3
    for cands in out:
        assert cands
        for c in cands:
            assert 0 < c.num_tokens <= 16 and c.logprob <= 0
            assert c.mean_logprob == pytest.approx(c.logprob / c.num_tokens)


def test_vllm_beam_search(vllm_generator):
    vllm_generator.decoding = "beam"
    try:
        out = vllm_generator.generate(STATES[:2], None, 4)
    finally:
        vllm_generator.decoding = "sample"
    assert len(out) == 2 and all(out)
    for c in out[0]:
        assert c.mean_logprob == pytest.approx(c.logprob / c.num_tokens)


def test_hf_on_cuda_matches_cpu():
    from test_models_hf import tiny_t5

    from prover.models.filters import TacticFilter
    from prover.models.hf import HFGenerator

    model, tok = tiny_t5()
    cpu = HFGenerator(model, tok, prompt_format="reprover", max_new_tokens=8, tactic_filter=TacticFilter([]))
    a = cpu.generate(STATES, None, 4)
    gpu = HFGenerator(model.to("cuda"), tok, prompt_format="reprover", max_new_tokens=8, tactic_filter=TacticFilter([]))
    b = gpu.generate(STATES, None, 4)
    for x, y in zip(a, b, strict=True):
        assert [c.tactic for c in x][:2] == [c.tactic for c in y][:2]


def test_real_reprover_checkpoint_if_cached():
    from huggingface_hub import try_to_load_from_cache

    name = "kaiyuy/leandojo-lean4-tacgen-byt5-small"
    if not isinstance(try_to_load_from_cache(name, "config.json"), str):
        pytest.skip(f"{name} is not in the local Hugging Face cache")
    gen = build_generator(GeneratorConfig(model=name, device="cuda"))
    cands = gen.generate(["n : ℕ\n⊢ gcd n n = n"], None, 8)[0]
    assert len(cands) >= 4
    assert any(c.tactic.startswith(("simp", "rw", "induction", "apply", "exact")) for c in cands)


# ---------------------------------------------------------------------------------------------------
# Real checkpoints, one per preset and per whole-proof format: each needs the checkpoint in the local Hugging
# Face cache (download it first: `hf download NAME`) and skips otherwise.

PRESET_MODELS = {
    "cpu": "kaiyuy/leandojo-lean4-tacgen-byt5-small",
    "gpu": "ByteDance-Seed/BFS-Prover-V2-7B",
    "internlm": "internlm/internlm2_5-step-prover",
    "internlm-math-plus": "internlm/internlm2-math-plus-7b",
}
GCD_STATE = "n : ℕ\n⊢ Nat.gcd n n = n"


def _cached(name: str) -> None:
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(name, "config.json"), str):
        pytest.skip(f"{name} is not in the local Hugging Face cache")


@pytest.mark.parametrize("preset", sorted(PRESET_MODELS))
def test_preset_loads_its_real_checkpoint_and_proposes_tactics(preset):
    from prover.models import StepContext

    _cached(PRESET_MODELS[preset])
    if preset != "cpu":
        pytest.importorskip("vllm")
    cfg = GeneratorConfig(preset=preset, device="cuda", gpu_memory_utilization=0.5)
    gen = build_generator(cfg)
    try:
        n = min(cfg.num_samples, 16)
        cands = gen.generate([GCD_STATE], None, n, contexts=[StepContext("gcd_self", ())])[0]
    finally:
        gen.close()
    assert cands, f"{preset}: no candidate for a one-step goal"
    for c in cands:
        assert c.tactic.strip() and "<|im_end|>" not in c.tactic and ":::" not in c.tactic
        assert "```" not in c.tactic and not c.tactic.startswith("Here is")
        assert c.logprob <= 0 and c.num_tokens > 0


def test_internlm_critic_prefers_no_goals():
    """The critic's card: "no goals" scores above an open goal."""
    from prover.models import CriticConfig, build_critic

    name = "internlm/internlm2_5-step-prover-critic"
    _cached(name)
    critic = build_critic(CriticConfig(backend="hf", model=name, device="cuda", dtype="float16"))
    assert critic is not None and critic.kind == "reward"
    done, open_goal = critic.score(["no goals", "x : ℕ\nh₀ : ↑x + 4 / 100 * ↑x = 598\n⊢ 100 * x = 100 * 575"])
    assert done > open_goal


@pytest.mark.parametrize(
    "model",
    [
        "deepseek-ai/DeepSeek-Prover-V2-7B",
        "Goedel-LM/Goedel-Prover-V2-8B",
        "AI-MO/Kimina-Prover-Preview-Distill-7B",
        "AI-MO/Kimina-Prover-Distill-8B",
    ],
)
def test_whole_proof_checkpoint_writes_a_lean_block(model):
    from prover.lean.types import Theorem
    from prover.models import WholeConfig, build_proof_generator

    _cached(model)
    pytest.importorskip("vllm")
    gen = build_proof_generator(
        WholeConfig(model=model, device="cuda", max_new_tokens=4096, max_model_len=8192, gpu_memory_utilization=0.6)
    )
    thm = Theorem("two_add_two", "theorem two_add_two : (2 : ℕ) + 2 = 4 := by", "import Mathlib\n")
    try:
        cands = gen.generate([thm], 4, seed=0)[0]
    finally:
        gen.close()
    assert len(cands) == 4 and gen.usage.samples == 4
    assert any(c.usable for c in cands), [c.problem for c in cands]
