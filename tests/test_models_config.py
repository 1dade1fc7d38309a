"""Generator config, presets, factories, filters, the automation portfolio and its combination with a model."""

from __future__ import annotations

import pytest

from prover.config import load_config
from prover.errors import UserError
from prover.models import (
    AutomationGenerator,
    Candidate,
    CombinedGenerator,
    CriticConfig,
    GeneratorConfig,
    ModelLoadError,
    StepContext,
    TacticFilter,
    TacticGenerator,
    build_critic,
    build_generator,
)
from prover.models.config import DEFAULT_AUTOMATION
from prover.models.filters import make_candidate, normalize_tactic, select


def test_defaults_run_on_cpu_with_reprover():
    cfg = GeneratorConfig()
    assert cfg.backend == "hf" and cfg.model == "kaiyuy/leandojo-lean4-tacgen-byt5-small"
    assert cfg.device == "auto" and cfg.decoding == "beam" and cfg.prompt_format == "auto"
    assert cfg.critic.backend == "none"
    assert cfg.model_backend == "hf" and not cfg.uses_automation


def test_gpu_preset_is_one_flag_and_explicit_keys_win():
    cfg = load_config(overrides=["generator.preset=gpu"]).generator
    assert (cfg.backend, cfg.model, cfg.prompt_format, cfg.decoding) == (
        "vllm",
        "ByteDance-Seed/BFS-Prover-V2-7B",
        "bfs",
        "sample",
    )
    assert cfg.temperature == 0.7
    cfg = load_config(overrides=["generator.preset=gpu", "generator.backend=openai", "generator.temperature=1.0"])
    assert cfg.generator.backend == "openai" and cfg.generator.temperature == 1.0
    assert GeneratorConfig(preset="internlm").prompt_format == "internlm25"


def test_presets_drive_checkpoints_as_their_authors_do():
    # lean-dojo/ReProver prover/evaluate.py: 64 beams, 512 output, 2048 input, length_penalty 0
    cpu = GeneratorConfig(preset="cpu")
    assert (cpu.decoding, cpu.num_samples, cpu.max_new_tokens, cpu.max_input_tokens, cpu.length_penalty) == (
        "beam", 64, 512, 2048, 0.0
    )
    # BFS-Prover-V2 src/search/prover_manager.py: 16 samples, T 0.7, top_p 1.0, 2048 tokens, max_model_len 16384
    gpu = GeneratorConfig(preset="gpu")
    assert (gpu.num_samples, gpu.temperature, gpu.top_p, gpu.max_new_tokens, gpu.max_model_len) == (
        16, 0.7, 1.0, 2048, 16384
    )
    # InternLM-Math minif2f scripts: temperature 0 = beam search, 32 samples, 256 tokens
    for name, fmt in (("internlm", "internlm25"), ("internlm-math-plus", "internlm-math-plus")):
        c = GeneratorConfig(preset=name)
        assert (c.backend, c.prompt_format, c.decoding, c.num_samples, c.max_new_tokens) == (
            "vllm", fmt, "beam", 32, 256
        )
        assert c.trust_remote_code


def test_internlm_checkpoints_run_on_vllm_unless_told():
    c = GeneratorConfig(model="internlm/internlm2_5-step-prover")
    assert c.backend == "vllm" and c.trust_remote_code
    assert GeneratorConfig(model="internlm/internlm2-math-plus-7b", backend="hf").backend == "hf"
    assert GeneratorConfig(model="kaiyuy/leandojo-lean4-tacgen-byt5-small").backend == "hf"


def test_degenerate_filter_follows_the_format():
    from prover.models.prompts import tactic_filter

    bfs = tactic_filter(GeneratorConfig(model="ByteDance-Seed/BFS-Prover-V2-7B", backend="hf"))
    # BFS-Prover-V2's filter: rcases / cases' / simpa with ?_, simpa with a _ placeholder
    for bad in ("rcases h with ⟨x, ?_⟩", "cases' h with ?_", "simpa using h _", "simpa [foo,_]"):
        assert not bfs.allowed(bad)
    for ok in ("refine ⟨?_, ?_⟩", "simpa using h", "rcases h with ⟨x, hx⟩", "exact foo _"):
        assert bfs.allowed(ok)
    assert tactic_filter(GeneratorConfig()).allowed("simpa using h _")  # ReProver: no such filter
    off = GeneratorConfig(model="ByteDance-Seed/BFS-Prover-V2-7B", backend="hf", drop_degenerate=False)
    assert tactic_filter(off).allowed("simpa using h _")


def test_backend_validation():
    assert GeneratorConfig(backend="hf+automation").model_backend == "hf"
    assert GeneratorConfig(backend="automation+openai").backend == "automation+openai"
    assert GeneratorConfig(backend="automation").model_backend is None
    for bad in ("tf", "hf+vllm", "hf+hf", ""):
        with pytest.raises(ValueError):
            GeneratorConfig(backend=bad)
    with pytest.raises(UserError, match="generator.backend"):
        load_config(overrides=["generator.backend=llama"])
    with pytest.raises(UserError, match="generator.prompt_format"):
        load_config(overrides=["generator.prompt_format=deepseek"])
    with pytest.raises(UserError, match="generator.device"):
        load_config(overrides=["generator.device=tpu"])
    with pytest.raises(UserError, match="generator.nope"):
        load_config(overrides=["generator.nope=1"])


def test_config_file_with_critic_section(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(
        '[generator]\nbackend = "openai+automation"\nmodel = "m"\nendpoint = "http://127.0.0.1:9/v1"\n'
        'automation = ["omega", "simp"]\n[generator.critic]\nbackend = "hf"\nmodel = "/x"\nnegate = true\n'
    )
    cfg = load_config(p).generator
    assert cfg.automation == ["omega", "simp"] and cfg.critic.negate and cfg.critic.model == "/x"


def test_filter_drops_unsound_and_empty():
    f = TacticFilter()
    assert f.allowed("simp [h]")
    for bad in ("sorry", "exact sorryAx _", "admit", "native_decide", "decide +native", "  ", ""):
        assert not f.allowed(bad), bad
    assert TacticFilter(allow_native_decide=True).allowed("native_decide")
    assert not TacticFilter(banned=["sorry", "admit", "rcases"]).allowed("rcases h with ⟨x, y⟩")


def test_select_sorts_dedupes_by_normalised_whitespace_and_cuts():
    cands = [
        make_candidate("simp", -3.0, 3),  # mean -1.0
        make_candidate("rw  [h]\n", -1.0, 4),  # mean -0.25
        make_candidate("rw [h]", -0.5, 1),  # same tactic once whitespace is normalised, better sum
        make_candidate("sorry", 0.0, 1),
        make_candidate("omega", -2.0, 1),  # mean -2.0
    ]
    by_sum = select(cands, 10, "sum", TacticFilter())
    assert [c.tactic for c in by_sum] == ["rw [h]", "omega", "simp"]
    by_mean = select(cands, 10, "mean", TacticFilter())
    assert [c.tactic for c in by_mean] == ["rw  [h]\n", "simp", "omega"]  # the duplicate with the best mean
    assert len(select(cands, 2, "sum", TacticFilter())) == 2
    assert normalize_tactic("  a\n  b ") == "a b"
    c = make_candidate("x", -6.0, 4)
    assert c.mean_logprob == pytest.approx(-1.5) and c.num_tokens == 4
    assert make_candidate("x", -2.0, 0).mean_logprob == -2.0


def test_automation_portfolio():
    gen = build_generator(GeneratorConfig(backend="automation"))
    assert isinstance(gen, AutomationGenerator) and isinstance(gen, TacticGenerator)
    out = gen.generate(["⊢ 1 + 1 = 2", "⊢ True"], None, 4)
    assert len(out) == 2
    assert [c.tactic for c in out[0]] == DEFAULT_AUTOMATION  # the whole portfolio, whatever n
    assert all(c.logprob == -1.0 and c.mean_logprob == -1.0 for c in out[0])
    assert "exact?" in DEFAULT_AUTOMATION and "aesop" in DEFAULT_AUTOMATION
    custom = AutomationGenerator(["omega", "omega ", "native_decide", "sorry", "decide"], logprob=-0.5)
    assert [c.tactic for c in custom.generate(["⊢ p"], None, 1)[0]] == ["omega", "decide"]
    assert len(AutomationGenerator(respect_n=True).generate(["⊢ p"], None, 3)[0]) == 3
    assert gen.generate([], None, 3) == []


class _FakeModel:
    """A scripted TacticGenerator (test tool) that records its calls."""

    def __init__(self):
        self.calls = []

    def generate(self, states, premises, n, *, contexts=None):
        self.calls.append((list(states), premises, n, contexts))
        return [[Candidate("omega", -0.1, -0.1, 1), Candidate("linarith [h]", -2.0, -0.5, 4)] for _ in states]


def test_combined_generator_merges_and_dedupes():
    model = _FakeModel()
    comb = CombinedGenerator(model, AutomationGenerator(["simp", "omega"]))
    out = comb.generate(["⊢ a", "⊢ b"], None, 2, contexts=[StepContext("t"), None])
    assert [c.tactic for c in out[0]] == ["omega", "linarith [h]", "simp"]
    assert model.calls[0][2] == 2 and model.calls[0][3][0].theorem_name == "t"
    first = CombinedGenerator(_FakeModel(), AutomationGenerator(["simp", "omega"]), automation_first=True)
    assert [c.tactic for c in first.generate(["⊢ a"], None, 2)[0]] == ["simp", "omega", "linarith [h]"]


def test_build_critic_none_and_missing_model():
    assert build_critic(GeneratorConfig()) is None
    assert build_critic(CriticConfig()) is None
    with pytest.raises(ModelLoadError, match="critic.model"):
        build_critic(CriticConfig(backend="hf"))


def test_build_generator_missing_local_folder_fails_fast_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as e:
        build_generator(GeneratorConfig(model="kaiyuy/no-such-model-here", device="cpu", load_timeout=60))
    msg = str(e.value)
    assert "kaiyuy/no-such-model-here" in msg and "HF_HUB_OFFLINE" in msg and "\n" not in msg


def test_vllm_backend_without_vllm_is_a_clear_error():
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401

        pytest.skip("vllm is installed here")
    except ImportError:
        pass
    with pytest.raises(ModelLoadError, match=r"lean-prover\[vllm\]"):
        build_generator(GeneratorConfig(backend="vllm", model="x"))


def test_vllm_with_the_default_byt5_model_says_what_to_do():
    with pytest.raises(ModelLoadError, match="preset=gpu"):
        build_generator(GeneratorConfig(backend="vllm"))
