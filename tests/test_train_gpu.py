"""Training on a CUDA GPU (marked ``gpu``; skipped without one): bf16 SFT, LoRA, and a trained checkpoint served by
the ``vllm`` generator. Tiny models built here; no hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from test_train import STATES, assert_lowered, export_steps, tiny_cfg  # noqa: E402

from prover.models import GeneratorConfig, build_generator  # noqa: E402

pytestmark = pytest.mark.gpu


def gpt2_folder(root: Path, width: int = 256) -> Path:
    """A GPT-2 whose attention head size (64) every vLLM attention backend supports."""
    from test_models_hf import EOS, byte_tokenizer
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=EOS + 2, n_positions=512, n_embd=width, n_layer=2, n_head=width // 64,
                     bos_token_id=EOS, eos_token_id=EOS)  # fmt: skip
    GPT2LMHeadModel(cfg).save_pretrained(root / "gpt2")
    byte_tokenizer().save_pretrained(root / "gpt2")
    return root / "gpt2"


def test_bf16_sft_on_gpu_loads_in_hf_generator(tmp_path, monkeypatch) -> None:
    from prover.train.sft import train_sft

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    base = gpt2_folder(tmp_path)
    data = export_steps(tmp_path, "bfs")
    out = tmp_path / "out"
    cfg = tiny_cfg(device="auto", precision="auto")
    train_sft(data, out, cfg, str(base))
    assert_lowered(out)
    run = json.loads((out / "prover_train.json").read_text())
    assert run["config"]["precision"] == "auto"
    gen = build_generator(GeneratorConfig(backend="hf", model=str(out / "final"), device="cuda", dtype="bfloat16",
                                          max_new_tokens=8))  # fmt: skip
    assert gen.model.dtype == torch.bfloat16 and len(gen.generate(STATES[:2], None, 2)) == 2


def test_lora_sft_on_gpu(tmp_path, monkeypatch) -> None:
    from prover.train.sft import train_sft

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    base = gpt2_folder(tmp_path)
    data = export_steps(tmp_path, "bfs")
    out = tmp_path / "out"
    train_sft(data, out, tiny_cfg(device="auto", lora={"enabled": True, "target_modules": ["c_attn"]}), str(base))
    assert_lowered(out)
    gen = build_generator(GeneratorConfig(backend="hf", model=str(out / "final"), device="cuda", max_new_tokens=8))
    assert len(gen.generate(STATES[:1], None, 2)) == 1


def test_trained_checkpoint_serves_in_vllm(tmp_path, monkeypatch) -> None:
    pytest.importorskip("vllm")
    from prover.train.sft import train_sft

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    base = gpt2_folder(tmp_path)
    data = export_steps(tmp_path, "bfs")
    out = tmp_path / "out"
    train_sft(data, out, tiny_cfg(device="auto"), str(base))
    gen = build_generator(GeneratorConfig(backend="vllm", model=str(out / "final"), decoding="sample",
                                          max_new_tokens=8, gpu_memory_utilization=0.2))  # fmt: skip
    out_cands = gen.generate(STATES[:2], None, 4)
    assert len(out_cands) == 2
    assert gen.format.name == "bfs"  # read from the checkpoint's prover.json
