"""Configuration of tactic generators and critics."""

from __future__ import annotations

from pydantic import BaseModel


class GeneratorConfig(BaseModel):
    model_config = {"extra": "forbid"}

    backend: str = "hf"  # hf | vllm | openai | automation
    model: str = "kaiyuy/leandojo-lean4-tacgen-byt5-small"
    device: str = "auto"  # auto | cpu | cuda
    num_samples: int = 8  # tactics per expansion
