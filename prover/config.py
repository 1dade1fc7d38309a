"""One typed config for the whole prover, loaded from TOML or YAML and overridden by CLI flags."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from data.config import BatchConfig
from data.mutate.config import MutateConfig
from prover.errors import UserError, closest
from prover.lean.config import LeanConfig
from prover.models.config import PRESETS, GeneratorConfig, WholeConfig
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


class Overrides(dict[str, Any]):
    """Config overrides (dotted key → value) that remember where each came from (``--workers``,
    ``--set batch.workers=0``), so that an invalid value is blamed on what the user typed."""

    def __init__(self, items: Mapping[str, Any] | None = None, sources: Mapping[str, str] | None = None) -> None:
        super().__init__(items or {})
        self.sources: dict[str, str] = dict(sources or {})


def _set_dotted(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    *parents, last = key.split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise UserError(f"{source}: {key}: {p!r} is not a section")
    node[last] = value


def _read_file(path: Path) -> tuple[dict[str, Any], str]:
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    if path.suffix not in (".toml", ".yaml", ".yml"):
        raise UserError(f"config file {path}: use .toml, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"config file {path}: not UTF-8 text (byte {e.start}); is it a config file?") from e
    except OSError as e:
        raise UserError(f"config file {path}: {e.strerror or e}") from e
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else (yaml.safe_load(text) or {})
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"config file {path}: {str(e).splitlines()[0]}") from e  # tomllib names line and column
    except yaml.YAMLError as e:
        marked = e if isinstance(e, yaml.MarkedYAMLError) else None  # a parse error knows where it is
        mark = marked and (marked.problem_mark or marked.context_mark)
        at = f", line {mark.line + 1}" if mark else ""
        what = (marked and marked.problem) or str(e).splitlines()[0]
        raise UserError(f"config file {path}{at}: {what}") from e
    if not isinstance(data, dict):
        raise UserError(f"config file {path}: top level must be a table of sections")
    return data, text


def _key_line(path: Path, text: str, loc: tuple[Any, ...]) -> int | None:
    """The line of ``path`` that sets the key at ``loc`` (1-based), for error messages."""
    keys = [str(x) for x in loc if not isinstance(x, int)]
    if not keys:
        return None
    if path.suffix != ".toml":
        try:
            node = yaml.compose(text)
        except yaml.YAMLError:
            return None
        line = None
        for k in keys:
            if not isinstance(node, yaml.MappingNode):
                break
            for kn, vn in node.value:
                if kn.value == k:
                    line, node = kn.start_mark.line + 1, vn
                    break
            else:
                break
        return line
    # TOML: `[a.b]` headers (or `[a]` + dotted `b.c = `) then `key =`
    section: list[str] = []
    for i, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if s.startswith("[") and not s.startswith("[["):
            section = [p.strip().strip('"') for p in s.split("]")[0].strip("[").split(".")]
            if section == keys:
                return i
            continue
        m = re.match(r'([\w."-]+)\s*=', s)
        if m and section + [p.strip().strip('"') for p in m.group(1).split(".")] == keys:
            return i
    return None


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config model that holds the key at ``loc`` (for suggesting a key name)."""
    model: Any = ProverConfig
    for k in loc[:-1]:
        field = model.model_fields.get(str(k)) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return None
        model = field.annotation
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _describe(err: Any) -> str:
    loc = tuple(err["loc"])
    where = ".".join(str(x) for x in loc)
    if err["type"] == "extra_forbidden":
        model = _model_at(loc)
        known = list(model.model_fields) if model is not None else []
        close = closest(str(loc[-1]), known, n=1)
        prefix = ".".join(str(x) for x in loc[:-1])
        hint = f" (did you mean {prefix + '.' if prefix else ''}{close[0]}?)" if close else ""
        return f"unknown key {where}{hint}"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: {msg}"


def load_config(path: Path | None = None, overrides: Mapping[str, Any] | list[str] | None = None) -> ProverConfig:
    """Read ``path`` (``.toml``, ``.yaml``/``.yml``), then apply ``overrides``.

    Overrides are ``{"search.max_expansions": 100}`` (an `Overrides` also says where each came from) or
    CLI-style ``["search.max_expansions=100"]`` (values parsed as YAML scalars, so ``true``, ``12``,
    ``[a, b]`` work; ``null`` sets a key to None, e.g. lifts ``search.time_limit``). An invalid config raises
    `UserError` naming what set the bad value: the flag, the ``--set`` item, or the file and line.
    """
    data: dict[str, Any] = {}
    text = ""
    if path is not None:
        path = Path(path)
        data, text = _read_file(path)
    sources: dict[str, str] = {}
    items: list[tuple[str, Any]] = []
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
        sources = dict(overrides.sources) if isinstance(overrides, Overrides) else {}
    else:
        for o in overrides or []:
            if "=" not in o:
                raise UserError(f"--set {o!r}: expected SECTION.KEY=VALUE")
            k, v = o.split("=", 1)
            try:
                items.append((k.strip(), yaml.safe_load(v) if v.strip() else None))
            except yaml.YAMLError as e:
                raise UserError(f"--set {o!r}: bad value ({str(e).splitlines()[0]})") from e
            sources[k.strip()] = f"--set {o}"
    preset = dict(items).get("generator.preset")
    generator = data.get("generator")
    if preset in PRESETS and isinstance(generator, dict):
        # A preset named on the command line comes after the file: it replaces the file's values of the keys
        # it sets (before, `--preset gpu` kept a file's `backend = "hf"` and silently did nothing).
        data["generator"] = {k: v for k, v in generator.items() if k not in PRESETS[preset]}
    for k, v in items:
        _set_dotted(data, k, v, sources.get(k, f"override {k}={v!r}"))
    try:
        return ProverConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        dotted = ".".join(str(x) for x in loc if not isinstance(x, int))
        # the override that set this key or a section above it; else the file
        owner = next(
            (sources[k] for k in sorted(sources, key=len, reverse=True) if dotted == k or dotted.startswith(k + ".")),
            None,
        )
        if owner is None:
            owner = next((f"override {k}" for k, _ in items if dotted == k or dotted.startswith(k + ".")), None)
        if owner is None and path is not None:
            line = _key_line(path, text, loc)
            owner = f"config file {path}" + (f", line {line}" if line else "")
        raise UserError(f"{owner or 'config'}: {_describe(err)}") from e
