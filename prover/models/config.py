"""Configuration of tactic generators and critics.

The defaults run on a laptop CPU: ReProver's ByT5 tactic generator (``kaiyuy/leandojo-lean4-tacgen-byt5-small``)
with Hugging Face transformers and beam search. ``preset = "gpu"`` switches in one flag to BFS-Prover-V2-7B on
the vLLM engine with sampling (keys set explicitly still win over the preset's).

Backends (``backend``):
  ``hf``          Hugging Face transformers (encoder-decoder or decoder-only), beam search or sampling
  ``vllm``        vLLM offline engine (``pip install 'lean-prover[vllm]'``), batched sampling with logprobs
  ``openai``      an OpenAI-compatible HTTP server (``vllm serve``, any hosted model): ``/completions``
  ``automation``  a fixed portfolio of automation tactics, no model
  ``X+automation``  model backend X plus the portfolio (e.g. ``hf+automation``)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

BACKENDS = ("hf", "vllm", "openai", "automation")
PROMPT_FORMATS = ("auto", "reprover", "internlm2", "internlm25", "bfs", "plain", "template")

DEFAULT_AUTOMATION = [
    "rfl",
    "decide",
    "omega",
    "norm_num",
    "simp",
    "simp_all",
    "linarith",
    "nlinarith",
    "positivity",
    "ring_nf",
    "field_simp",
    "tauto",
    "aesop",
    "exact?",
]

# One flag to switch between a CPU-friendly default and a GPU step prover. A preset fills only the keys the
# user did not set.
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {
        "backend": "hf",
        "model": "kaiyuy/leandojo-lean4-tacgen-byt5-small",
        "prompt_format": "reprover",
        "decoding": "beam",
    },
    "gpu": {
        "backend": "vllm",
        "model": "ByteDance-Seed/BFS-Prover-V2-7B",
        "prompt_format": "bfs",
        "decoding": "sample",
        "temperature": 0.7,
        "top_p": 1.0,
        "device": "cuda",
        "dtype": "bfloat16",
    },
    "internlm": {
        "backend": "vllm",
        "model": "internlm/internlm2_5-step-prover",
        "prompt_format": "internlm25",
        "decoding": "sample",
        "temperature": 0.7,
        "device": "cuda",
        "dtype": "bfloat16",
        "trust_remote_code": True,
    },
}


def _check_device(v: str) -> str:
    if v in ("auto", "cpu", "cuda", "mps") or v.startswith("cuda:"):
        return v
    raise ValueError(f"unknown device {v!r}; use auto, cpu, cuda or cuda:N")


def _check_dtype(v: str) -> str:
    if v not in ("auto", "float32", "bfloat16", "float16"):
        raise ValueError(f"unknown dtype {v!r}; use auto, float32, bfloat16 or float16")
    return v


class CriticConfig(BaseModel):
    """A learned critic (value model) over goal states; ``backend = "none"`` disables it."""

    model_config = {"extra": "forbid"}

    backend: Literal["none", "hf"] = "none"
    model: str = ""  # HF hub id or local folder of a sequence-classification / regression model
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16
    batch_size: int = Field(16, ge=1)
    max_input_tokens: int = Field(2048, ge=8)
    # How the state is shown to the critic; ``{state}`` is replaced by the pretty-printed goals.
    prompt_template: str = "{state}"
    # A distance-to-``no goals`` regressor (MPS-Prover style) predicts "lower is better": set negate so that
    # the returned score is higher-is-better, as `Critic.score` promises.
    negate: bool = False
    load_timeout: float = Field(900.0, gt=0)
    trust_remote_code: bool = False

    _device = field_validator("device")(classmethod(lambda cls, v: _check_device(v)))
    _dtype = field_validator("dtype")(classmethod(lambda cls, v: _check_dtype(v)))


class GeneratorConfig(BaseModel):
    model_config = {"extra": "forbid", "protected_namespaces": ()}

    preset: Literal["cpu", "gpu", "internlm"] | None = None
    backend: str = "hf"  # hf | vllm | openai | automation | hf+automation | vllm+automation | openai+automation
    model: str = "kaiyuy/leandojo-lean4-tacgen-byt5-small"  # HF hub id, local folder, or served model name
    tokenizer: str | None = None  # default: same as model
    device: str = "auto"  # auto | cpu | cuda | cuda:N (auto = cuda when available)
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16
    trust_remote_code: bool = False  # needed by InternLM checkpoints
    num_samples: int = Field(8, ge=1)  # tactics per expansion (search may ask for another n)

    # Prompt: "auto" picks the format from the model name (ReProver/ByT5 -> reprover, BFS-Prover -> bfs,
    # internlm2_5-step-prover -> internlm25, internlm2-step-prover -> internlm2, else plain).
    prompt_format: str = "auto"
    # For prompt_format = "template": Python format string with {state}, {premises}, {theorem_name},
    # {proof_before}; e.g. "[GOAL]\n{state}\n[PROOFSTEP]\n".
    prompt_template: str = "{state}"
    stop: list[str] | None = None  # extra stop strings (the format's own are always used)
    max_input_tokens: int = Field(2300, ge=8)  # prompt limit (ReProver: 2300 bytes, premises dropped first)

    # Decoding
    decoding: Literal["beam", "sample"] = "beam"
    temperature: float = Field(1.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_new_tokens: int = Field(256, ge=1)
    length_penalty: float = 0.0  # beam search (ReProver: 0.0, i.e. rank by sum of log-probs)
    rank_by: Literal["auto", "sum", "mean"] = "auto"  # order of returned candidates; auto: by format
    batch_size: int = Field(8, ge=1)  # states per forward pass (hf)
    seed: int | None = None

    # Filters
    banned: list[str] = Field(default_factory=lambda: ["sorry", "admit"])
    allow_native_decide: bool = False

    # Loading
    load_timeout: float = Field(900.0, gt=0)  # seconds; a load that takes longer fails with ModelLoadError

    # vLLM engine
    gpu_memory_utilization: float = Field(0.85, gt=0.0, le=1.0)
    tensor_parallel_size: int = Field(1, ge=1)
    max_model_len: int | None = None

    # OpenAI-compatible HTTP server
    endpoint: str = "http://127.0.0.1:8000/v1"  # base URL, e.g. of `vllm serve MODEL`
    api: Literal["completions", "chat"] = "completions"
    api_key_env: str = "OPENAI_API_KEY"  # name of the environment variable holding the key (optional)
    request_timeout: float = Field(120.0, gt=0)
    max_retries: int = Field(2, ge=0)  # on connection errors, 429 and 5xx
    max_concurrency: int = Field(16, ge=1)  # parallel requests for a batch of states

    # Automation portfolio (backend "automation" or "X+automation")
    automation: list[str] = Field(default_factory=lambda: list(DEFAULT_AUTOMATION))
    automation_logprob: float = -1.0  # log-prob given to each portfolio tactic
    automation_first: bool = False  # put the portfolio before the model's candidates

    critic: CriticConfig = Field(default_factory=CriticConfig)

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") is not None:
            preset = PRESETS.get(data["preset"])
            if preset is not None:  # an unknown name is reported by the Literal check
                data = {**preset, **data}
        return data

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        parts = [p.strip() for p in v.split("+")]
        bad = [p for p in parts if p not in BACKENDS]
        if bad or not parts or len(set(parts)) != len(parts):
            raise ValueError(f"unknown backend {v!r}; choose from {list(BACKENDS)} or e.g. 'hf+automation'")
        if len([p for p in parts if p != "automation"]) > 1:
            raise ValueError(f"backend {v!r}: combine at most one model backend with 'automation'")
        return "+".join(parts)

    @field_validator("prompt_format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        if v not in PROMPT_FORMATS:
            raise ValueError(f"unknown prompt_format {v!r}; choose from {list(PROMPT_FORMATS)}")
        return v

    _device = field_validator("device")(classmethod(lambda cls, v: _check_device(v)))
    _dtype = field_validator("dtype")(classmethod(lambda cls, v: _check_dtype(v)))

    @property
    def model_backend(self) -> str | None:
        """The model part of ``backend`` (None for a pure automation portfolio)."""
        parts = [p for p in self.backend.split("+") if p != "automation"]
        return parts[0] if parts else None

    @property
    def uses_automation(self) -> bool:
        return "automation" in self.backend.split("+")
