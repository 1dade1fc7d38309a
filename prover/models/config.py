"""Configuration of tactic generators, whole-proof generators and critics.

The defaults run on a laptop CPU: ReProver's ByT5 tactic generator (``kaiyuy/leandojo-lean4-tacgen-byt5-small``)
with Hugging Face transformers and beam search. ``preset = "gpu"`` switches in one flag to BFS-Prover-V2-7B on
the vLLM engine with sampling (keys set explicitly still win over the preset's). Each preset drives its model
as the authors' released evaluation code does (README: "Released checkpoints").

`WholeConfig` (the ``[whole]`` section) configures the whole-proof generator of the ``whole`` / ``repair``
modes on the same backends and loading keys (`BackendConfig`).

Backends (``backend``):
  ``hf``          Hugging Face transformers (encoder-decoder or decoder-only), beam search or sampling
  ``vllm``        vLLM offline engine (``pip install 'lean-prover[vllm]'``), batched sampling with logprobs
  ``openai``      an OpenAI-compatible HTTP server (``vllm serve``, any hosted model): ``/completions``
  ``automation``  a fixed portfolio of automation tactics, no model
  ``X+automation``  model backend X plus the portfolio (e.g. ``hf+automation``)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

BACKENDS = ("hf", "vllm", "openai", "automation")
PROMPT_FORMATS = ("auto", "reprover", "internlm2", "internlm25", "internlm-math-plus", "bfs", "plain", "template")
PROOF_FORMATS = ("auto", "deepseek-v2-cot", "deepseek-v2", "goedel-v2", "kimina", "kimina-preview", "plain", "template")
# InternLM checkpoints: their remote modeling code no longer imports under current transformers (it needs
# `transformers.modeling_attn_mask_utils`, removed in transformers 5.10), so they run on vLLM unless told.
_INTERNLM = ("internlm2", "internlm-")

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
    # lean-dojo/ReProver prover/evaluate.py: 64 beams returning 64, max_oup_seq_len 512, max_inp_seq_len 2048,
    # length_penalty 0.0 (100 retrieved premises: retrieval.k is the retrieval section's, see README)
    "cpu": {
        "backend": "hf",
        "model": "kaiyuy/leandojo-lean4-tacgen-byt5-small",
        "prompt_format": "reprover",
        "decoding": "beam",
        "num_samples": 64,
        "max_new_tokens": 512,
        "max_input_tokens": 2048,
        "length_penalty": 0.0,
    },
    # ByteDance-Seed/BFS-Prover-V2 src/search/prover_manager.py: n=16, temperature 0.7, top_p 1.0,
    # max_tokens 2048, max_model_len 16384, degenerate-tactic filter (the bfs format's default)
    "gpu": {
        "backend": "vllm",
        "model": "ByteDance-Seed/BFS-Prover-V2-7B",
        "prompt_format": "bfs",
        "decoding": "sample",
        "num_samples": 16,
        "temperature": 0.7,
        "top_p": 1.0,
        "max_new_tokens": 2048,
        "max_model_len": 16384,
        "device": "cuda",
        "dtype": "bfloat16",
    },
    # InternLM/InternLM-Math minif2f/proofsearch_internLM2.5-StepProver.py: temperature 0.0 = beam search,
    # 32 samples, max_tokens 256, length_penalty 0.0, float16
    "internlm": {
        "backend": "vllm",
        "model": "internlm/internlm2_5-step-prover",
        "prompt_format": "internlm25",
        "decoding": "beam",
        "num_samples": 32,
        "max_new_tokens": 256,
        "length_penalty": 0.0,
        "device": "cuda",
        "dtype": "float16",
        "trust_remote_code": True,
    },
    # same repository, proofsearch_internLM2-plus.py + scripts/eval_internLM2-plus_7b.sh: beam, 32, 256, bfloat16
    "internlm-math-plus": {
        "backend": "vllm",
        "model": "internlm/internlm2-math-plus-7b",
        "prompt_format": "internlm-math-plus",
        "decoding": "beam",
        "num_samples": 32,
        "max_new_tokens": 256,
        "length_penalty": 0.0,
        "device": "cuda",
        "dtype": "bfloat16",
        "trust_remote_code": True,
    },
}


def _is_internlm(model: str) -> bool:
    m = model.lower().replace("_", "-")
    return m.startswith(("internlm/", "internlm-")) or any(k in m for k in _INTERNLM)


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
    model: str = ""  # HF hub id or local folder of a sequence-classification / regression / reward model
    # classifier: AutoModelForSequenceClassification; reward: a reward model with its own code
    # (InternLM2.5-StepProver's critic: AutoModel + trust_remote_code, one score per chat); auto: from the
    # checkpoint's config (architectures ending in "RewardModel" → reward)
    kind: Literal["auto", "classifier", "reward"] = "auto"
    # Reward models: the user turn of the chat the state is the answer to (internlm2_5-step-prover-critic card)
    reward_question: str = "Which state is closer to 'no goals'?"
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

    @model_validator(mode="before")
    @classmethod
    def _internlm_code(cls, data: Any) -> Any:
        # InternLM's critic is a reward model with its own code: it loads only with trust_remote_code
        if isinstance(data, dict) and "trust_remote_code" not in data and _is_internlm(str(data.get("model", ""))):
            data = {**data, "trust_remote_code": True}
        return data


class BackendConfig(BaseModel):
    """Where a model runs and how it is loaded: the keys tactic and whole-proof generators share."""

    model_config = {"extra": "forbid", "protected_namespaces": ()}

    model: str = "kaiyuy/leandojo-lean4-tacgen-byt5-small"  # HF hub id, local folder, or served model name
    tokenizer: str | None = None  # default: same as model
    device: str = "auto"  # auto | cpu | cuda | cuda:N (auto = cuda when available)
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16
    trust_remote_code: bool = False  # needed by InternLM checkpoints
    batch_size: int = Field(8, ge=1)  # prompts per forward pass (hf)
    seed: int | None = None
    max_input_tokens: int = Field(2300, ge=8)  # prompt limit (ReProver: bytes, premises dropped first)

    # Loading
    load_timeout: float = Field(900.0, gt=0)  # seconds; a load that takes longer fails with ModelLoadError

    # vLLM engine
    gpu_memory_utilization: float = Field(0.85, gt=0.0, le=1.0)
    tensor_parallel_size: int = Field(1, ge=1)
    max_model_len: int | None = None  # prompts that do not fit are skipped (and logged), never the batch

    # OpenAI-compatible HTTP server
    endpoint: str = "http://127.0.0.1:8000/v1"  # base URL, e.g. of `vllm serve MODEL`
    api: Literal["completions", "chat"] = "completions"
    api_key_env: str = "OPENAI_API_KEY"  # name of the environment variable holding the key (optional)
    request_timeout: float = Field(120.0, gt=0)
    max_retries: int = Field(2, ge=0)  # on connection errors, 429 and 5xx
    max_concurrency: int = Field(16, ge=1)  # parallel requests for a batch of states

    _device = field_validator("device")(classmethod(lambda cls, v: _check_device(v)))
    _dtype = field_validator("dtype")(classmethod(lambda cls, v: _check_dtype(v)))


class GeneratorConfig(BackendConfig):
    preset: Literal["cpu", "gpu", "internlm", "internlm-math-plus"] | None = None
    backend: str = "hf"  # hf | vllm | openai | automation | hf+automation | vllm+automation | openai+automation
    num_samples: int = Field(8, ge=1)  # tactics per expansion (search may ask for another n)

    # Prompt: "auto" picks the format from the model name (ReProver/ByT5 -> reprover, BFS-Prover -> bfs,
    # internlm2_5-step-prover -> internlm25, internlm2-step-prover -> internlm2, internlm2-math-plus ->
    # internlm-math-plus, else plain).
    prompt_format: str = "auto"
    # For prompt_format = "template": Python format string with {state}, {premises}, {theorem_name},
    # {proof_before}; e.g. "[GOAL]\n{state}\n[PROOFSTEP]\n".
    prompt_template: str = "{state}"
    stop: list[str] | None = None  # extra stop strings (the format's own are always used)

    # Decoding
    decoding: Literal["beam", "sample"] = "beam"
    temperature: float = Field(1.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_new_tokens: int = Field(256, ge=1)  # a candidate that reaches it unfinished is dropped
    length_penalty: float = 0.0  # beam search (ReProver: 0.0, i.e. rank by sum of log-probs)
    rank_by: Literal["auto", "sum", "mean"] = "auto"  # order of returned candidates; auto: by format

    # Filters
    banned: list[str] = Field(default_factory=lambda: ["sorry", "admit"])
    allow_native_decide: bool = False
    drop_degenerate: bool | None = None  # BFS-Prover-V2's degenerate-tactic filter; None: as the format's authors

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
        if isinstance(data, dict) and "backend" not in data and _is_internlm(str(data.get("model", ""))):
            data = {**data, "backend": "vllm"}
            data.setdefault("trust_remote_code", True)
        return data

    @model_validator(mode="after")
    def _chat_needs_chat_format(self) -> GeneratorConfig:
        if self.model_backend == "openai" and self.api == "chat":
            from prover.models.prompts import config_format

            fmt = config_format(self)
            if not fmt.chat:
                raise ValueError(
                    f"api = 'chat' wraps the prompt in the server's chat template, but prompt_format "
                    f"{fmt.name!r} is a raw prompt its model was trained on without one; use api = 'completions'"
                )
        return self

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

    @property
    def model_backend(self) -> str | None:
        """The model part of ``backend`` (None for a pure automation portfolio)."""
        parts = [p for p in self.backend.split("+") if p != "automation"]
        return parts[0] if parts else None

    @property
    def uses_automation(self) -> bool:
        return "automation" in self.backend.split("+")


class WholeConfig(BackendConfig):
    """The whole-proof generator (``[whole]``): theorems in, sampled whole proofs out (``whole`` / ``repair``
    modes). Decoding keys left unset take the prompt format's published defaults (README: "Whole-proof
    generators")."""

    backend: Literal["hf", "vllm", "openai"] = "vllm"
    model: str = "Goedel-LM/Goedel-Prover-V2-8B"
    # auto: from the model name (DeepSeek-Prover-V2 -> deepseek-v2-cot, Goedel-Prover-V2 -> goedel-v2,
    # Kimina-Prover-Preview -> kimina-preview, Kimina-Prover -> kimina, else plain)
    prompt_format: str = "auto"
    # For prompt_format = "template": Python format string with {header}, {statement} (ends ":= by"), {name},
    # {informal}; the model's answer is read like the others' (last Lean block, or the continued statement).
    prompt_template: str = ""
    api: Literal["completions", "chat"] = "chat"  # chat formats need the server's chat template
    num_samples: int = Field(8, ge=1)  # samples per theorem per request
    temperature: float | None = Field(None, ge=0.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_new_tokens: int | None = Field(None, ge=1)
    max_input_tokens: int = Field(16384, ge=8)
    batch_size: int = Field(1, ge=1)  # theorems per forward pass (hf)
    # Sampling budget per theorem, counted as APOLLO and the model papers count it: every completion is one
    # sample (a self-correction turn too); None = unlimited
    max_samples: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1)  # completion tokens per theorem
    # Every request and answer appended to this JSONL file / answers read back from such a file instead of
    # loading the model (`prover.models.record`); the whole-proof, draft and sketch models may share one file
    record_path: Path | None = None
    replay_path: Path | None = None

    @field_validator("prompt_format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        if v not in PROOF_FORMATS:
            raise ValueError(f"unknown prompt_format {v!r}; choose from {list(PROOF_FORMATS)}")
        return v

    @model_validator(mode="after")
    def _format_fits_api(self) -> WholeConfig:
        from prover.models.prompts import get_proof_format

        fmt = get_proof_format(self.prompt_format, self.model, self.prompt_template)
        if self.backend == "openai" and fmt.chat and self.api != "chat":
            raise ValueError(
                f"prompt_format {fmt.name!r} is a chat conversation: use api = 'chat' (the server applies "
                "the model's chat template)"
            )
        if self.backend == "openai" and not fmt.chat and self.api == "chat":
            raise ValueError(f"prompt_format {fmt.name!r} is a raw prompt: use api = 'completions'")
        return _one_of_record_replay(self)


class CompletionConfig(BackendConfig):
    """A model that writes text for a prompt (the sketch mode's draft and sketch models): the same backends and
    loading keys as the others. With ``api = "chat"`` the prompt is one user turn (the backend applies the
    model's chat template, or sends it to a chat API), else the raw text."""

    backend: Literal["hf", "vllm", "openai"] = "openai"
    api: Literal["completions", "chat"] = "chat"
    temperature: float = Field(0.6, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_new_tokens: int = Field(32768, ge=1)
    max_input_tokens: int = Field(32768, ge=8)
    batch_size: int = Field(1, ge=1)
    # openai: ask for token log-probs (unused for drafts and sketches; some hosted reasoning APIs refuse them)
    logprobs: bool = False
    record_path: Path | None = None  # as `WholeConfig.record_path`
    replay_path: Path | None = None

    @model_validator(mode="after")
    def _record_replay(self) -> CompletionConfig:
        return _one_of_record_replay(self)


def _one_of_record_replay(cfg: Any) -> Any:
    if cfg.record_path is not None and cfg.replay_path is not None:
        raise ValueError("set record_path (record a run) or replay_path (re-run one offline), not both")
    return cfg
