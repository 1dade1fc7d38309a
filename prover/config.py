"""One typed config for the whole prover, loaded from TOML or YAML and overridden by CLI flags."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from data.config import BatchConfig
from data.mutate.config import MutateConfig
from prover.errors import UserError
from prover.lean.config import LeanConfig
from prover.models.config import GeneratorConfig, WholeConfig
from prover.train.config import TrainConfig
from repair.config import RepairConfig
from repair.sketch_config import SketchConfig
from retrieval.config import RetrievalConfig
from search.config import SearchConfig


class ProverConfig(BaseModel):
    model_config = {"extra": "forbid"}

    # step: tactic search; whole: sampled whole proofs; repair: whole + the repair loop; hybrid: repair whose
    # sub-goals go to the step prover first; sketch: draft, sketch, prove (DSP+) (README: "Proving modes")
    mode: Literal["step", "whole", "repair", "hybrid", "sketch"] = "step"

    lean: LeanConfig = Field(default_factory=LeanConfig)
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    whole: WholeConfig = Field(default_factory=WholeConfig)  # whole-proof generator (whole / repair modes)
    search: SearchConfig = Field(default_factory=SearchConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    mutate: MutateConfig = Field(default_factory=MutateConfig)
    repair: RepairConfig = Field(default_factory=RepairConfig)
    sketch: SketchConfig = Field(default_factory=SketchConfig)

    @model_validator(mode="after")
    def _native_decide(self) -> ProverConfig:
        for section, cfg in (("repair", self.repair), ("sketch", self.sketch)):
            if cfg.uses_native_decide() and "Lean.ofReduceBool" not in self.lean.allowed_axioms:
                raise ValueError(
                    f"{section}.automation uses native_decide, whose proofs the soundness gate rejects; drop it, "
                    "or add Lean.ofReduceBool to lean.allowed_axioms (then such proofs trust the compiler)"
                )
        return self

    # Which models the mode needs (built before a run; nothing else is loaded).
    @property
    def uses_step_model(self) -> bool:
        """The tactic generator: mode step, hybrid, or sketch with the step prover's search on placeholders."""
        return self.mode in ("step", "hybrid") or (self.mode == "sketch" and self.sketch.search)

    @property
    def uses_whole_model(self) -> bool:
        """The whole-proof generator: modes whole / repair / hybrid, or sketch with sub-lemma samples."""
        sketch = self.mode == "sketch" and self.sketch.sublemma_samples > 0
        return self.mode in ("whole", "repair", "hybrid") or sketch

    @property
    def uses_sketch_models(self) -> bool:
        """The draft and sketch models: mode sketch, or hybrid starting with a sketch."""
        return self.mode == "sketch" or (self.mode == "hybrid" and self.sketch.first_in_hybrid)


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise UserError(f"config override {key!r}: {p!r} is not a section")
    node[last] = value


def load_config(path: Path | None = None, overrides: dict[str, Any] | list[str] | None = None) -> ProverConfig:
    """Read ``path`` (``.toml``, ``.yaml``/``.yml``), then apply ``overrides``.

    Overrides are ``{"search.max_expansions": 100}`` or CLI-style ``["search.max_expansions=100"]``
    (values parsed as YAML scalars, so ``true``, ``12``, ``[a, b]`` work).
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"config file not found: {path}")
        try:
            text = path.read_text()
            if path.suffix == ".toml":
                data = tomllib.loads(text)
            elif path.suffix in (".yaml", ".yml"):
                data = yaml.safe_load(text) or {}
            else:
                raise UserError(f"config file {path}: use .toml, .yaml or .yml")
        except (tomllib.TOMLDecodeError, yaml.YAMLError) as e:
            raise UserError(f"config file {path}: {str(e).splitlines()[0]}") from e
        if not isinstance(data, dict):
            raise UserError(f"config file {path}: top level must be a table of sections")
    items: list[tuple[str, Any]]
    if isinstance(overrides, dict):
        items = list(overrides.items())
    else:
        items = []
        for o in overrides or []:
            if "=" not in o:
                raise UserError(f"config override {o!r}: expected SECTION.KEY=VALUE")
            k, v = o.split("=", 1)
            items.append((k.strip(), yaml.safe_load(v) if v.strip() else None))
    for k, v in items:
        if v is not None:
            _set_dotted(data, k, v)
    try:
        return ProverConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        src = f"config file {path}" if path else "config"
        raise UserError(f"{src}: {where}: {err['msg']}") from e
