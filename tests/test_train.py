"""Trainers on tiny models built here (byte-level GPT-2, ByT5-style T5): a few SFT (causal, seq2seq, LoRA),
DPO and critic steps lower the loss; the final checkpoint loads unchanged in the ``hf`` generator (with the
prompt format it was trained for) and in `build_critic`; a rerun resumes from the last checkpoint."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")

from batch_fakes import double_config  # noqa: E402
from test_models_hf import byte_tokenizer, tiny_gpt2, tiny_t5  # noqa: E402

from data.export import Exporter, StepRecord, write_steps  # noqa: E402
from prover.lean.types import TacticState  # noqa: E402
from prover.models import CriticConfig, GeneratorConfig, build_critic, build_generator  # noqa: E402
from prover.models.prompts import CHECKPOINT_INFO  # noqa: E402
from prover.train.config import TrainConfig  # noqa: E402
from prover.train.perplexity import PerplexityScorer  # noqa: E402
from prover.train.sources import export  # noqa: E402
from search.graph import SearchGraph  # noqa: E402

STATES = [f"n{i} : ℕ\n⊢ n{i} + 0 = n{i}" for i in range(8)]


def tiny_cfg(**kw: Any) -> TrainConfig:
    base = {
        "learning_rate": 3e-3, "max_steps": 8, "batch_size": 4, "logging_steps": 1, "save_steps": 100,
        "eval_steps": 100, "device": "cpu", "max_length": 256, "warmup_ratio": 0.0, "lr_scheduler": "constant",
    }  # fmt: skip
    base.update(kw)
    return TrainConfig.model_validate(base)


def losses(out: Path) -> list[float]:
    state = json.loads((sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[-1]
                        / "trainer_state.json").read_text())  # fmt: skip
    return [h["loss"] for h in state["log_history"] if "loss" in h]


def assert_lowered(out: Path) -> None:
    ls = losses(out)
    assert len(ls) >= 6 and all(math.isfinite(x) for x in ls)
    first, last = sum(ls[:3]) / 3, sum(ls[-3:]) / 3
    assert last < first, ls


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("train-models")
    out = {}
    for name, (model, tok) in {"gpt2": tiny_gpt2(), "t5": tiny_t5()}.items():
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
        out[name] = root / name
    return out


def export_steps(tmp: Path, fmt: str, model: str = "") -> Path:
    recs = [StepRecord(f"t{i}", s, "simp only [Nat.add_zero]", origin="test") for i, s in enumerate(STATES)]
    write_steps(tmp / "steps.jsonl", recs)
    config = double_config(Path("/dev/null"), **{
        "train.export.holdout": [], "train.export.valid_fraction": 0.4, "generator.prompt_format": fmt,
        **({"generator.model": model} if model else {})})  # fmt: skip
    export([tmp / "steps.jsonl"], "sft", tmp / "sft", config)
    return tmp / "sft"


def proof_graph(i: int) -> SearchGraph:
    g = SearchGraph(TacticState.of_goals([STATES[i]], 0), theorem=f"t{i}")
    g.add_edge(g.root, "norm_num [foo]", "error", error="unknown identifier 'foo'")
    g.add_edge(g.root, "exact bad", "error", error="unknown identifier 'bad'")
    _, dead, _ = g.add_edge(g.root, "induction n", "ok", TacticState.of_goals([f"case zero\n⊢ 0 = {i}"], 1))
    g.add_edge(dead, "rfl", "error", error="The rfl tactic failed")
    g.mark_expanded(dead)
    _, mid, _ = g.add_edge(g.root, "rw [Nat.add_zero]", "ok", TacticState.of_goals([f"n{i} : ℕ\n⊢ n{i} = n{i}"], 2))
    g.mark_expanded(g.root)
    g.add_edge(mid, "exact rfl", "proved")
    g.mark_expanded(mid)
    return g


def export_graphs(tmp: Path, kind: str, fmt: str = "bfs") -> Path:
    config = double_config(Path("/dev/null"), **{"train.export.holdout": [], "train.export.valid_fraction": 0.4,
                                                 "generator.prompt_format": fmt})  # fmt: skip
    ex = Exporter(kind, config.generator, config.train.export)
    for i in range(len(STATES)):
        ex.add_graph(proof_graph(i), ex._theorem("g", f"t{i}"), "g")
    ex.write(tmp / kind)
    return tmp / kind


# ---------------------------------------------------------------------------------------------------


def test_sft_causal_lowers_loss_loads_in_hf_generator_and_resumes(folders, tmp_path, monkeypatch, capsys) -> None:
    from prover.train.sft import train_sft

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = export_steps(tmp_path, "bfs")
    out = tmp_path / "out"
    metrics = train_sft(data, out, tiny_cfg(), str(folders["gpt2"]))
    assert_lowered(out)
    assert math.isfinite(metrics["eval_loss"])
    info = json.loads((out / "final" / CHECKPOINT_INFO).read_text())
    assert info["prompt_format"] == "bfs" and info["kind"] == "sft" and info["data"]["rows"]["train"] > 0
    err = capsys.readouterr().err
    assert "step 8/8" in err and "eval loss" in err
    # the checkpoint loads as is; prompt_format "auto" reads the trained format from prover.json
    gen = build_generator(GeneratorConfig(backend="hf", model=str(out / "final"), device="cpu", decoding="sample",
                                          max_new_tokens=8, num_samples=2))  # fmt: skip
    assert gen.format.name == "bfs"
    assert len(gen.generate(STATES[:1], None, 2)) == 1
    # a rerun with final/ complete does nothing; after a crash (no final/) it resumes from the last checkpoint
    assert train_sft(data, out, tiny_cfg(), str(folders["gpt2"])) == {}
    shutil.rmtree(out / "final")
    train_sft(data, out, tiny_cfg(max_steps=10), str(folders["gpt2"]))
    assert "resuming from" in capsys.readouterr().err and (out / "checkpoint-10").is_dir()
    assert [h["step"] for h in json.loads((out / "checkpoint-10" / "trainer_state.json").read_text())["log_history"]
            if "loss" in h][-2:] == [9, 10]  # fmt: skip
    # another base model in the same directory is refused
    with pytest.raises(Exception, match="holds another training run"):
        train_sft(data, out, tiny_cfg(), str(folders["t5"]))


def test_sft_seq2seq_lowers_loss_and_loads_in_hf_generator(folders, tmp_path, monkeypatch) -> None:
    from prover.train.sft import train_sft

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = export_steps(tmp_path, "reprover")
    out = tmp_path / "out"
    train_sft(data, out, tiny_cfg(), str(folders["t5"]))
    assert_lowered(out)
    gen = build_generator(GeneratorConfig(backend="hf", model=str(out / "final"), device="cpu", max_new_tokens=8,
                                          num_samples=2))  # fmt: skip
    assert gen.encoder_decoder and gen.format.name == "reprover"
    assert len(gen.generate(STATES[:2], None, 2)) == 2


def test_sft_lora_is_merged_into_a_full_checkpoint(folders, tmp_path, monkeypatch) -> None:
    from prover.train.sft import train_sft

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = export_steps(tmp_path, "bfs")
    out = tmp_path / "out"
    cfg = tiny_cfg(lora={"enabled": True, "r": 4, "alpha": 8, "target_modules": ["c_attn", "c_proj"]},
                   learning_rate=1e-2)  # fmt: skip
    train_sft(data, out, cfg, str(folders["gpt2"]))
    assert_lowered(out)
    assert not (out / "final" / "adapter_config.json").exists() and (out / "adapter" / "adapter_config.json").exists()
    gen = build_generator(GeneratorConfig(backend="hf", model=str(out / "final"), device="cpu", max_new_tokens=4))
    base = build_generator(GeneratorConfig(backend="hf", model=str(folders["gpt2"]), device="cpu", max_new_tokens=4))
    changed = any(not torch.equal(a, b) for a, b in zip(gen.model.parameters(), base.model.parameters(), strict=True))
    assert changed  # the merged weights differ from the base


def test_dpo_lowers_loss_and_loads_in_hf_generator(folders, tmp_path, monkeypatch) -> None:
    from prover.train.dpo import train_dpo

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = export_graphs(tmp_path, "dpo")
    out = tmp_path / "out"
    metrics = train_dpo(data, out, tiny_cfg(learning_rate=1e-3), str(folders["gpt2"]))
    assert_lowered(out)
    assert "eval_loss" in metrics
    gen = build_generator(GeneratorConfig(backend="hf", model=str(out / "final"), device="cpu", max_new_tokens=4))
    assert gen.format.name == "bfs"
    with pytest.raises(Exception, match="causal"):
        train_dpo(data, tmp_path / "t5", tiny_cfg(), str(folders["t5"]))


@pytest.mark.parametrize("objective", ["regression", "classification"])
def test_critic_lowers_loss_and_loads_in_build_critic(folders, tmp_path, monkeypatch, objective) -> None:
    from prover.train.critic import train_critic

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = export_graphs(tmp_path, "critic")
    out = tmp_path / "out"
    train_critic(data, out, tiny_cfg(critic={"objective": objective}, max_steps=10), str(folders["gpt2"]))
    assert_lowered(out)
    critic = build_critic(GeneratorConfig(critic=CriticConfig(backend="hf", model=str(out / "final"), device="cpu")))
    scores = critic.score([STATES[0], "case zero\n⊢ 0 = 0"])
    assert len(scores) == 2 and all(math.isfinite(s) for s in scores)


def test_perplexity_scorer_matches_the_models_own_loss(folders) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folders["gpt2"])
    tok = byte_tokenizer()
    scorer = PerplexityScorer(model, tok, batch_size=2)
    prompts, completions = ["⊢ a:::", "x : ℕ\n⊢ x = x:::"], ["rfl", "simp only [h]"]
    got = scorer(prompts, completions)
    for p, c, g in zip(prompts, completions, got, strict=True):
        p_ids, c_ids = tok(p)["input_ids"], tok(c, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        ids = torch.tensor([p_ids + c_ids])
        labels = torch.tensor([[-100] * len(p_ids) + c_ids])
        with torch.no_grad():
            want = model(input_ids=ids, labels=labels).loss.item()
        assert g == pytest.approx(want, rel=1e-4)


CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_sft_of_a_whole_proof_model_on_gated_proofs_in_a_chat_format(folders, tmp_path, monkeypatch) -> None:
    from data.export import RunData
    from prover.lean.types import Theorem
    from prover.models.config import WholeConfig
    from prover.models.prompts import get_proof_format
    from prover.models.whole import build_proof_generator
    from prover.train.sft import train_sft

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    chat_model = tmp_path / "chat-gpt2"
    shutil.copytree(folders["gpt2"], chat_model)
    tok = byte_tokenizer()
    tok.chat_template = CHATML
    tok.save_pretrained(chat_model)
    names = [f"t{i}" for i in range(8)]
    stmts = {n: f"theorem {n} (a : ℕ) : a + {i} = {i} + a := by" for i, n in enumerate(names)}
    run = RunData(
        path="run",
        theorems=[{"key": n, "name": n, "statement": stmts[n], "header": "import Mathlib\n"} for n in names],
        attempts=[{"theorem": n, "attempt": 0, "status": "proved", "proof": stmts[n] + "\n  omega"} for n in names],
    )
    config = double_config(Path("/dev/null"), **{"train.export.holdout": [], "train.export.valid_fraction": 0.4,
                                                 "generator.automation": ["rfl"]})  # fmt: skip
    whole = WholeConfig(model="Goedel-LM/Goedel-Prover-V2-8B", prompt_format="goedel-v2")
    ex = Exporter("whole", config.generator, config.train.export, whole=whole)
    ex.add_run(run)
    ex.write(tmp_path / "whole")
    out = tmp_path / "out"
    train_sft(tmp_path / "whole", out, tiny_cfg(max_length=512), str(chat_model))
    assert_lowered(out)
    info = json.loads((out / "final" / CHECKPOINT_INFO).read_text())
    assert info["proof_format"] == "goedel-v2" and "prompt_format" not in info
    assert get_proof_format("auto", str(out / "final")).name == "goedel-v2"  # what `whole.prompt_format=auto` picks
    gen = build_proof_generator(WholeConfig(backend="hf", model=str(out / "final"), device="cpu", max_new_tokens=8))
    thm = Theorem("t0", stmts["t0"], "import Mathlib\n", "test", {"key": "t0"})
    assert len(gen.generate([thm], 1)[0]) == 1
