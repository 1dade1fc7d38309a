"""Training data from what the prover produces: Hugging Face ``datasets`` files with a documented schema.

Inputs
------
* **Search graphs** (`search.graph.SearchGraph`, saved by ``prover batch --save-graphs`` into
  ``RUN_DIR/graphs/`` or by ``prover prove --save-tree``): every tactic Lean ran, failures included.
* **Batch stores** (`RunData`: the theorems and attempts of ``RUN_DIR/results.sqlite``, read by
  `prover.train.sources`): statements, gated proofs, solve rates; and the run's graphs.
* **LeanDojo Benchmark 4** traced data (a theorem JSON with ``traced_tactics`` or flattened tactic JSONL).
* **Step files** written through `write_steps` (one `StepRecord` per line): the entry point of other
  pipelines, e.g. the mutation pipeline (``data/mutate*``) writes its (state, tactic) pairs this way.

Kinds and their columns (every row also has ``theorem``, ``statement`` (``""`` when unknown), ``origin``
(``search`` | ``leandojo`` | ``steps`` | ``store``), ``source`` (the input it came from) and ``split``)
------------------------------------------------------------------------------------------------------
* ``sft`` — one (state, tactic) step of a proof: ``state``, ``tactic``, ``proof_before`` (tactics before it
  on the proof path), ``premises`` (names of the premises shown to the generator), ``distance`` (steps left to
  ``no goals`` including this one, or -1), ``prompt``, ``completion``. From graphs: the proof path of each
  proved attempt (shortest proof found).
* ``dpo`` — ``state``, ``prompt``, ``chosen``, ``rejected`` (completions), ``chosen_tactic``,
  ``rejected_tactic``, ``reason`` (why the rejected tactic is worse: ``error`` = Lean rejected it, ``dead_end``
  = it led to a state the search found unprovable, ``cycle`` = back to a state on its own path, ``unsound`` =
  the proof through it failed the soundness gate, ``timeout``) and ``error`` (Lean's message). Chosen is the
  proof-path tactic of a state on a proof path; rejected are its siblings. Crashes are never negatives (an
  infrastructure failure says nothing about the tactic).
* ``critic`` — ``state``, ``text`` (what the critic reads: `prover.models.prompts.critic_input`),
  ``distance`` (steps to ``no goals`` of the shortest proof found from the state; -1 when the search proved
  the state dead), ``provable`` (bool), ``label`` (the regression target the trainer uses by default:
  ``-min(distance, cap)``, ``-cap`` for dead states, so a higher critic score is better as `Critic` promises).
  Positives are all proved states of a graph, negatives its failed (expanded, every tactic dead) states; open
  states are unknown and skipped.
* ``whole`` — a whole proof that passed the soundness gate (the store's proved attempts): ``header``, ``proof``
  (the theorem text as the gate checked it), ``prompt`` and ``completion`` for the whole-proof generator's
  format (``whole.prompt_format``, `prover.models.prompts.ProofFormat`). Chat formats (DeepSeek-Prover-V2,
  Goedel-Prover-V2, Kimina) give a conversational row — ``prompt`` the messages the generator sends,
  ``completion`` one assistant message with the code in a ```` ```lean4 ```` block (the block the generator
  extracts; no reasoning text: the store keeps none) — which trl applies the tokenizer's chat template to, as
  the backends do at inference; raw formats give the prompt text and its continuation (the proof after the
  statement's ``:= by``). The informal statement some formats show comes from the run's benchmark file.

``prompt`` / ``text`` are rendered by the renderer the generators and the critic use at inference
(`prover.models.prompts`), with the generator config the model will run with (``generator.prompt_format``,
``model``, ``prompt_template``, ``max_input_tokens``), so training and inference prompts cannot drift. The
``completion`` is the tactic followed by the format's stop string (the trainer's tokenizer adds EOS).

Curation (counts per filter in the manifest), in this order
------------------------------------------------------------
1. **held-out**: rows of held-out benchmark theorems (``train.export.holdout``, default the miniF2F and
   ProofNet test splits) are dropped, matched by theorem name and by normalised statement; the written
   files are re-read and checked, and the manifest says so.
2. **automation**: (sft, whole) theorems that the automation portfolio alone proves (a found proof whose every tactic
   is a ``generator.automation`` tactic) teach the model nothing (MPS-Prover's "overly simple proofs").
3. **easy**: (sft, whole) with ``easy_solve_rate``, theorems a run solved in at least that share of >= 2 attempts
   (BFS-Prover's expert iteration drops what the current policy already solves).
4. **dedup**: identical examples (same prompt and target) are kept once; an example of the validation split
   that also occurs in training is dropped from validation.
5. **ineffective**: (sft) a tactic tried >= ``ineffective_min_tries`` times across the graphs that led to a
   proved state in less than ``ineffective_rate`` of its tries keeps at most ``ineffective_cap`` rows
   (MPS-Prover prunes frequent ineffective tactics; its exact rule is not published, this is ours).
6. **perplexity**: (sft, and whole in a raw format) with a scoring model, rows whose completion perplexity is below the
   ``ppl_low`` or above the ``ppl_high`` quantile are dropped (BFS-Prover-V2's two-tailed filter).

Splits are by theorem, never by row: ``md5(theorem)`` decides, so a theorem lands in the same split in every
export and every expert-iteration round. Output: ``DIR/train.jsonl`` and ``DIR/valid.jsonl`` (or ``.parquet``)
and ``DIR/manifest.json``; ``datasets.load_dataset("json", data_files=...)`` reads them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from data.config import ExportConfig
from prover.errors import UserError
from prover.lean.types import Theorem
from prover.models.base import StepContext
from prover.models.config import GeneratorConfig, WholeConfig
from prover.models.prompts import PromptFormat, ProofFormat, critic_input, get_format, get_proof_format
from retrieval.base import Premise

SCHEMA = "prover-train-export"
SCHEMA_VERSION = 1
KINDS = ("sft", "dpo", "critic", "whole")
STEPS_FORMAT = "prover-steps"
NO_GOALS = "no goals"

# A scorer for the perplexity filter: (prompts, completions) -> mean negative log-likelihood per token.
Scorer = Callable[[Sequence[str], Sequence[str]], list[float]]


# ---------------------------------------------------------------------------------------------------
# The steps entry point (other pipelines write (state, tactic) pairs here)


@dataclass(frozen=True)
class StepRecord:
    """One (state, tactic) step for training, as other pipelines (mutation, ...) hand it over.

    ``state`` is the goals as Lean pretty-prints them (`TacticState.pp`); ``tactic`` ran on it without error.
    ``proof_before``: tactics applied before it in the same proof; ``premises``: what the generator should be
    shown (ReProver's format); ``state_after``: ``"no goals"`` when it closed the proof; ``distance``: steps left
    to ``no goals`` including this one, when known (critic data); ``statement``: the theorem's statement text,
    when known (held-out check); ``origin`` names the pipeline (``mutation``, ...)."""

    theorem: str
    state: str
    tactic: str
    proof_before: tuple[str, ...] = ()
    premises: tuple[Premise, ...] = ()
    state_after: str | None = None
    distance: int | None = None
    statement: str = ""
    origin: str = "steps"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["proof_before"] = list(self.proof_before)
        d["premises"] = [asdict(p) for p in self.premises]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StepRecord:
        return cls(
            theorem=str(d["theorem"]),
            state=str(d["state"]),
            tactic=str(d["tactic"]),
            proof_before=tuple(d.get("proof_before") or ()),
            premises=tuple(Premise(**p) for p in d.get("premises") or ()),
            state_after=d.get("state_after"),
            distance=d.get("distance"),
            statement=d.get("statement") or "",
            origin=d.get("origin") or "steps",
        )


def write_steps(path: Path | str, records: Iterable[StepRecord]) -> int:
    """Write ``records`` as a steps file (JSONL, first line ``{"format": "prover-steps", "version": 1}``);
    returns how many. `prover data export FILE` reads it like any other input."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(json.dumps({"format": STEPS_FORMAT, "version": SCHEMA_VERSION}) + "\n")
        for r in records:
            f.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def read_steps(path: Path | str) -> Iterator[StepRecord]:
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                if d.get("format") == STEPS_FORMAT:
                    continue
                yield StepRecord.from_json(d)
            except (ValueError, KeyError, TypeError) as e:
                raise UserError(f"{path}:{i}: not a step record ({type(e).__name__}: {e})") from e


def is_steps_file(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as f:
            first = f.readline()
        return json.loads(first).get("format") == STEPS_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


# ---------------------------------------------------------------------------------------------------
# Other inputs


@dataclass
class RunData:
    """A batch run directory as its results store holds it (`prover.train.sources.read_run_dir` fills it)."""

    path: str
    theorems: list[dict[str, Any]]  # key, name, statement, header, split, source
    attempts: list[dict[str, Any]]  # theorem (key), attempt, status, proof, ...
    graph_files: list[Path] = field(default_factory=list)
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)  # theorem key -> its benchmark row's fields


def leandojo_steps(path: Path | str) -> list[StepRecord]:
    """LeanDojo Benchmark 4 traced tactics (a theorem JSON list with ``traced_tactics``, or flattened JSONL
    records with ``state_before``) as steps, in proof order; ``distance`` is left unknown (LeanDojo proofs are
    not linear paths)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from e
    by_thm: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        if path.suffix == ".jsonl":
            for line in text.splitlines():
                if line.strip():
                    r = json.loads(line)
                    by_thm[r["full_name"]].append(r)
            for rs in by_thm.values():
                rs.sort(key=lambda r: r.get("tactic_idx", 0))
        else:
            data = json.loads(text)
            for thm in data if isinstance(data, list) else [data]:
                by_thm[thm["full_name"]].extend(thm.get("traced_tactics") or [])
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: not LeanDojo traced data ({type(e).__name__}: {e})") from e
    out: list[StepRecord] = []
    for name, rs in by_thm.items():
        before: list[str] = []
        for r in rs:
            out.append(
                StepRecord(
                    theorem=name,
                    state=r["state_before"],
                    tactic=r["tactic"],
                    proof_before=tuple(before),
                    state_after=r.get("state_after"),
                    origin="leandojo",
                )
            )
            before.append(r["tactic"])
    return out


def is_leandojo_file(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as f:
            head = f.read(4096)
    except OSError:
        return False
    return '"state_before"' in head or '"traced_tactics"' in head


# ---------------------------------------------------------------------------------------------------
# Held-out theorems


_MODIFIERS = r"(?:(?:private|protected|noncomputable|nonrec)\s+)*"
_NAMED = re.compile(r"^\s*(?:@\[[^\]]*\]\s*)?" + _MODIFIERS + r"(?:theorem|lemma)\s+\S+")
_EXAMPLE = re.compile(r"^\s*(?:@\[[^\]]*\]\s*)?" + _MODIFIERS + r"example\b")


def normalize_statement(text: str) -> str:
    """A statement without its declaration keyword, name, trailing ``:= by`` / ``sorry`` and extra spaces,
    for comparing statements across sources (``theorem foo (x : ℕ) : P x := by`` → ``(x : ℕ) : P x``)."""
    s = _NAMED.sub("", text or "", count=1)
    s = _EXAMPLE.sub("", s, count=1)
    s = re.sub(r":=\s*(by)?\s*(sorry)?\s*$", "", s.strip())
    return " ".join(s.split())


@dataclass
class Holdout:
    """Held-out theorems: names and normalised statements; rows matching either never reach the output."""

    specs: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    statements: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, specs: Sequence[str], benchmark_dir: Path | str | None) -> Holdout:
        """``specs``: ``BENCHMARK:SPLIT`` (``minif2f:test``), ``BENCHMARK`` (all splits), or a ``.jsonl`` /
        ``.lean`` path. A benchmark that is not on disk is an error (a silent skip would leak it)."""
        from data.benchmarks import BENCHMARKS, load_benchmark, load_theorems
        from data.config import default_benchmark_dir

        h = cls(specs=list(specs))
        bdir = benchmark_dir or default_benchmark_dir()
        for spec in specs:
            name, _, split = spec.partition(":")
            try:
                ts = load_benchmark(name, split or None, bdir) if name in BENCHMARKS else load_theorems(spec)
            except UserError as e:
                raise UserError(
                    f"held-out set {spec!r}: {e} (or drop it from train.export.holdout, e.g. "
                    "--set train.export.holdout=[] to export without a held-out check)"
                ) from e
            for t in ts:
                h.names.add(t.name)
                h.names.add(str(t.meta.get("key") or t.name))
                st = normalize_statement(t.statement)
                if st:
                    h.statements.add(st)
        return h

    def hit(self, name: str, statement: str = "") -> bool:
        if name in self.names:
            return True
        st = normalize_statement(statement) if statement else ""
        return bool(st) and st in self.statements


# ---------------------------------------------------------------------------------------------------
# Rendering


def completion_text(fmt: PromptFormat, tactic: str) -> str:
    """The target a model is trained to write for ``tactic``: the tactic, then the format's stop string
    (what `PromptFormat.extract` cuts at)."""
    return tactic + (fmt.stop[0] if fmt.stop else "")


class Renderer:
    """Renders prompts with the inference renderer for one generator config (and the critic's template)."""

    def __init__(self, gen: GeneratorConfig) -> None:
        self.gen = gen
        self.fmt = get_format(gen.prompt_format, gen.model, gen.prompt_template)

    @property
    def name(self) -> str:
        return self.fmt.name

    def prompt(self, state: str, theorem: str, proof_before: Sequence[str], premises: Sequence[Premise]) -> str:
        ctx = StepContext(theorem_name=theorem, proof_before=tuple(proof_before))
        return self.fmt.render(state, list(premises), ctx, max_len=self.gen.max_input_tokens)

    def completion(self, tactic: str) -> str:
        return completion_text(self.fmt, tactic)

    def critic(self, state: str) -> str:
        return critic_input(state, self.gen.critic.prompt_template)


# ---------------------------------------------------------------------------------------------------
# The exporter


def whole_target(fmt: ProofFormat, theorem: Theorem, proof: str) -> Any:
    """What a whole-proof model is trained to answer for a gated ``proof`` (the theorem text): for a chat format
    one assistant message with the header and proof in a ``lean4`` block, for a raw format the continuation of
    the prompt (which ends with the statement's ``:= by``); None when ``proof`` does not continue the statement
    (e.g. helper lemmas before it), which a raw prompt cannot express."""
    if fmt.chat:
        header = theorem.header.rstrip()
        code = (header + "\n\n" if header else "") + proof.strip()
        return [{"role": "assistant", "content": f"```lean4\n{code}\n```"}]
    stmt = theorem.statement.rstrip()
    if not proof.startswith(stmt):
        return None
    rest = proof[len(stmt) :]
    if not re.search(r":=\s*by\s*$", stmt):  # the prompt ends in ':= by'; the stored text may add it
        m = re.match(r"\s*(:=)?\s*by\b", rest)
        if m is None:
            return None
        rest = rest[m.end() :]
    return rest


def split_of(theorem: str, valid_fraction: float) -> str:
    """``train`` or ``valid`` from the theorem name alone (stable across exports and rounds)."""
    h = int.from_bytes(hashlib.md5(theorem.encode("utf-8")).digest()[:8], "little") / 2**64
    return "valid" if h < valid_fraction else "train"


def _norm_tactic(t: str) -> str:
    return " ".join(t.split())


def proof_body_tactics(proof: str, statement: str) -> list[str]:
    """The tactic lines of a stored proof text (the statement, then one tactic per line)."""
    body = proof[len(statement.rstrip()) :] if statement and proof.startswith(statement.rstrip()) else proof
    body = re.sub(r"^\s*(:=)?\s*by\b", "", body)
    return [ln.strip() for ln in body.splitlines() if ln.strip()]


@dataclass
class _Theorem:
    key: str
    name: str
    statement: str = ""
    automation_only: bool = False
    finished: int = 0
    proved: int = 0


@dataclass
class _Edges:
    tries: int = 0
    useful: int = 0


class Exporter:
    """Collects rows of one ``kind`` from inputs, curates them and writes the dataset (see the module docstring)."""

    def __init__(
        self,
        kind: str,
        generator: GeneratorConfig,
        cfg: ExportConfig,
        *,
        holdout: Holdout | None = None,
        scorer: Scorer | None = None,
        whole: WholeConfig | None = None,
    ) -> None:
        if kind not in KINDS:
            raise UserError(f"unknown export kind {kind!r}; choose from {', '.join(KINDS)}")
        self.kind = kind
        self.cfg = cfg
        self.render = Renderer(generator)
        self.whole = whole or WholeConfig()
        self.proof_format = get_proof_format(self.whole.prompt_format, self.whole.model, self.whole.prompt_template)
        self.automation = {_norm_tactic(t) for t in generator.automation}
        self.holdout = holdout or Holdout()
        self.scorer = scorer
        self.rows: list[dict[str, Any]] = []
        self.theorems: dict[tuple[str, str], _Theorem] = {}  # (source, key)
        self.tactic_stats: dict[str, _Edges] = defaultdict(_Edges)
        self.inputs: list[dict[str, Any]] = []
        self.read = Counter()  # per origin: rows produced before curation
        self.skipped = Counter()  # rows that could not be made (reason -> count)

    # -- inputs -----------------------------------------------------------------------------------

    def _theorem(self, source: str, key: str, name: str | None = None, statement: str = "") -> _Theorem:
        t = self.theorems.get((source, key))
        if t is None:
            t = self.theorems[(source, key)] = _Theorem(key, name or key, statement)
        elif statement and not t.statement:
            t.statement = statement
        return t

    def add_run(self, run: RunData) -> None:
        info = {r["key"]: r for r in run.theorems}
        for r in run.theorems:
            self._theorem(run.path, r["key"], r.get("name"), r.get("statement") or "")
        for a in run.attempts:
            key = a["theorem"]
            meta = info.get(key, {})
            t = self._theorem(run.path, key, meta.get("name"), meta.get("statement") or "")
            if a["status"] in ("proved", "failed", "timeout"):
                t.finished += 1
            if a["status"] == "proved" and a.get("proof"):
                t.proved += 1
                tactics = proof_body_tactics(a["proof"], t.statement)
                if tactics and all(_norm_tactic(x) in self.automation for x in tactics):
                    t.automation_only = True
                if self.kind == "whole":
                    self._whole_row(run, meta, t, a["proof"])
        n = 0
        for p in run.graph_files:
            n += self.add_graph_file(p, source=run.path, theorems=info)
        self.inputs.append(
            {"type": "run", "path": run.path, "theorems": len(run.theorems), "attempts": len(run.attempts), "graphs": n}
        )

    def _whole_row(self, run: RunData, row: dict[str, Any], t: _Theorem, proof: str) -> None:
        meta = {**run.meta.get(t.key, {}), "key": t.key}
        thm = Theorem(t.name, t.statement, row.get("header") or "", row.get("source") or "", meta)
        target = whole_target(self.proof_format, thm, proof)
        self.read["store"] += 1
        if target is None:
            self.skipped["whole_not_a_continuation"] += 1
            return
        self.rows.append(
            {
                "theorem": t.name,
                "statement": t.statement,
                "origin": "store",
                "source": run.path,
                "_key": t.key,
                "header": thm.header,
                "proof": proof,
                "prompt": self.proof_format.render(thm),
                "completion": target,
            }
        )

    def add_graph_file(
        self, path: Path | str, *, source: str | None = None, theorems: dict[str, dict[str, Any]] | None = None
    ) -> int:
        """One saved graph; returns 1 if it was read. ``theorems`` (the store's rows by key) give statements."""
        from search.graph import SearchGraph

        try:
            g = SearchGraph.load(path)
        except (OSError, ValueError, KeyError, EOFError) as e:
            raise UserError(f"{path}: not a readable search graph ({type(e).__name__}: {e})") from e
        key = str(g.meta.get("theorem_key") or g.theorem or Path(path).stem)
        meta = (theorems or {}).get(key, {})
        name = str(meta.get("name") or g.meta.get("theorem_name") or g.theorem or key)
        src = source or str(path)
        t = self._theorem(src, key, name, meta.get("statement") or "")
        if source is None:
            self.inputs.append({"type": "graph", "path": str(path)})
        self.add_graph(g, t, src)
        return 1

    def add_graph(self, g: Any, t: _Theorem, source: str) -> None:
        # Tactic effectiveness over every try (crashes say nothing about the tactic).
        for e in g.edges:
            if e.kind == "crash":
                continue
            s = self.tactic_stats[_norm_tactic(e.tactic)]
            s.tries += 1
            if e.dst is not None and e.dst.status == "proved" and not e.cycle:
                s.useful += 1
        # A graph says "proved" only if the attempt's proof passed the gate (batch graphs record the status).
        proved = g.proved and g.meta.get("status", "proved") == "proved"
        path = g.proof_path() if proved else None
        if path and all(_norm_tactic(e.tactic) in self.automation for e in path):
            t.automation_only = True
        if self.kind == "whole":  # whole proofs come from the store; a graph only says how they were found
            return
        base = {"theorem": t.name, "statement": t.statement, "origin": "search", "source": source, "_key": t.key}
        if self.kind == "critic":
            cap = self.cfg.critic_distance_cap
            for n in g.state_nodes():
                if n.status == "proved" and not math.isinf(n.proof_len):
                    self._critic_row(base, n.pp, int(n.proof_len), cap)
                elif n.status == "failed":
                    self._critic_row(base, n.pp, None, cap)
            return
        if not path:
            return
        tactics = [e.tactic for e in path]
        for i, e in enumerate(path):
            node = e.src
            premises = node.extra.get("premises") or ()
            prompt = self.render.prompt(node.pp, t.name, tactics[:i], premises)
            if self.kind == "sft":
                self.rows.append(
                    {
                        **base,
                        "state": node.pp,
                        "tactic": e.tactic,
                        "proof_before": tactics[:i],
                        "premises": [p.full_name for p in premises],
                        "distance": len(path) - i,
                        "prompt": prompt,
                        "completion": self.render.completion(e.tactic),
                    }
                )
                self.read["search"] += 1
            else:
                self._dpo_rows(base, node, e, prompt)

    def _dpo_rows(self, base: dict[str, Any], node: Any, chosen: Any, prompt: str) -> None:
        allowed = set(self.cfg.dpo_negatives)
        seen = {_norm_tactic(chosen.tactic)}
        n = 0
        for e in node.out_edges:
            if n >= self.cfg.max_pairs_per_state:
                break
            tac = _norm_tactic(e.tactic)
            if tac in seen:
                continue
            if e.kind in ("error", "timeout", "unsound"):
                reason = e.kind
            elif e.kind == "ok" and e.cycle:
                reason = "cycle"
            elif e.kind == "ok" and e.dst is not None and e.dst.status == "failed":
                reason = "dead_end"
            else:
                continue  # a crash, a proof, or a state whose value is unknown
            if reason not in allowed:
                continue
            seen.add(tac)
            n += 1
            self.rows.append(
                {
                    **base,
                    "state": node.pp,
                    "prompt": prompt,
                    "chosen": self.render.completion(chosen.tactic),
                    "rejected": self.render.completion(e.tactic),
                    "chosen_tactic": chosen.tactic,
                    "rejected_tactic": e.tactic,
                    "reason": reason,
                    "error": e.error or "",
                }
            )
            self.read["search"] += 1

    def _critic_row(self, base: dict[str, Any], state: str, distance: int | None, cap: int) -> None:
        self.rows.append(
            {
                **base,
                "state": state,
                "text": self.render.critic(state),
                "distance": -1 if distance is None else distance,
                "provable": distance is not None,
                "label": float(-cap if distance is None else -min(distance, cap)),
            }
        )
        self.read[base["origin"]] += 1

    def add_steps(self, records: Iterable[StepRecord], source: str) -> None:
        n = 0
        for r in records:
            n += 1
            t = self._theorem(source, r.theorem, r.theorem, r.statement)
            base = {"theorem": r.theorem, "statement": r.statement, "origin": r.origin, "source": source,
                    "_key": t.key}  # fmt: skip
            if self.kind == "sft":
                self.rows.append(
                    {
                        **base,
                        "state": r.state,
                        "tactic": r.tactic,
                        "proof_before": list(r.proof_before),
                        "premises": [p.full_name for p in r.premises],
                        "distance": -1 if r.distance is None else r.distance,
                        "prompt": self.render.prompt(r.state, r.theorem, r.proof_before, r.premises),
                        "completion": self.render.completion(r.tactic),
                    }
                )
                self.read[r.origin] += 1
            elif self.kind == "critic" and r.distance is not None:
                self._critic_row(base, r.state, r.distance, self.cfg.critic_distance_cap)
        self.inputs.append({"type": "steps", "path": source, "records": n})

    # -- curation ---------------------------------------------------------------------------------

    def _example_key(self, r: dict[str, Any]) -> tuple[str, ...]:
        if self.kind == "sft":
            return (r["prompt"], r["completion"])
        if self.kind == "whole":
            return (json.dumps(r["prompt"], ensure_ascii=False), json.dumps(r["completion"], ensure_ascii=False))
        if self.kind == "dpo":
            return (r["prompt"], r["chosen"], r["rejected"])
        return (r["text"],)

    def curate(self) -> tuple[list[dict[str, Any]], dict[str, int]]:
        cfg = self.cfg
        removed: dict[str, int] = {}
        rows = self.rows
        # 1. held-out theorems
        keep = [r for r in rows if not self.holdout.hit(r["theorem"], r["statement"])]
        removed["holdout"] = len(rows) - len(keep)
        rows = keep
        if self.kind in ("sft", "whole"):
            # 2. proofs the automation portfolio finds alone
            if cfg.drop_automation_proofs:

                def auto(r: dict[str, Any]) -> bool:
                    t = self.theorems.get((r["source"], r["_key"]))
                    return t is not None and t.automation_only

                keep = [r for r in rows if not auto(r)]
                removed["automation"] = len(rows) - len(keep)
                rows = keep
            # 3. theorems the run already solves easily
            if cfg.easy_solve_rate is not None:

                def easy(r: dict[str, Any]) -> bool:
                    t = self.theorems.get((r["source"], r["_key"]))
                    return t is not None and t.finished >= 2 and t.proved / t.finished >= cfg.easy_solve_rate

                keep = [r for r in rows if not easy(r)]
                removed["easy"] = len(rows) - len(keep)
                rows = keep
        if self.kind == "critic":
            rows = self._merge_critic(rows, removed)
        # 4. duplicates (training copies win over validation copies)
        for r in rows:
            r["split"] = split_of(r["theorem"], cfg.valid_fraction)
        rows.sort(key=lambda r: r["split"] != "train")  # stable: train rows first
        seen: set[tuple[str, ...]] = set()
        keep = []
        for r in rows:
            k = self._example_key(r)
            if k in seen:
                continue
            seen.add(k)
            keep.append(r)
        removed["duplicate"] = len(rows) - len(keep)
        rows = keep
        if self.kind == "sft":
            rows = self._cap_ineffective(rows, removed)
        if self.scorer is not None and (self.kind == "sft" or (self.kind == "whole" and not self.proof_format.chat)):
            rows = self._perplexity(rows, removed)
        for r in rows:
            r.pop("_key", None)
        return rows, removed

    def _merge_critic(self, rows: list[dict[str, Any]], removed: dict[str, int]) -> list[dict[str, Any]]:
        """One row per state: the shortest distance any graph proved; dead only if no graph proved it."""
        best: dict[str, dict[str, Any]] = {}
        for r in rows:
            b = best.get(r["text"])
            if b is None or (r["provable"] and (not b["provable"] or r["distance"] < b["distance"])):
                best[r["text"]] = r
        removed["critic_merged"] = len(rows) - len(best)
        return list(best.values())

    def _cap_ineffective(self, rows: list[dict[str, Any]], removed: dict[str, int]) -> list[dict[str, Any]]:
        cfg = self.cfg
        if cfg.ineffective_cap is None:
            return rows
        bad = {
            t
            for t, s in self.tactic_stats.items()
            if s.tries >= cfg.ineffective_min_tries and s.useful / s.tries < cfg.ineffective_rate
        }
        by_tac: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            t = _norm_tactic(r["tactic"])
            if t in bad:
                by_tac[t].append(i)
        drop: set[int] = set()
        for idx in by_tac.values():
            if len(idx) > cfg.ineffective_cap:
                # a deterministic, content-based choice of which rows stay
                idx.sort(key=lambda i: hashlib.md5(rows[i]["prompt"].encode("utf-8")).digest())
                drop.update(idx[cfg.ineffective_cap :])
        removed["ineffective"] = len(drop)
        return [r for i, r in enumerate(rows) if i not in drop]

    def _perplexity(self, rows: list[dict[str, Any]], removed: dict[str, int]) -> list[dict[str, Any]]:
        assert self.scorer is not None
        if not rows:
            removed["perplexity_low"] = removed["perplexity_high"] = 0
            return rows
        nll = self.scorer([r["prompt"] for r in rows], [r["completion"] for r in rows])
        for r, x in zip(rows, nll, strict=True):
            r["perplexity"] = float(math.exp(min(x, 50.0)))
        vals = sorted(r["perplexity"] for r in rows)

        def quantile(q: float) -> float:
            return vals[min(len(vals) - 1, max(0, int(q * len(vals))))]

        lo = quantile(self.cfg.ppl_low) if self.cfg.ppl_low > 0 else -math.inf
        hi = quantile(self.cfg.ppl_high) if self.cfg.ppl_high < 1 else math.inf
        removed["perplexity_low"] = sum(1 for r in rows if r["perplexity"] < lo)
        removed["perplexity_high"] = sum(1 for r in rows if r["perplexity"] > hi)
        return [r for r in rows if lo <= r["perplexity"] <= hi]

    # -- output -----------------------------------------------------------------------------------

    def write(self, out_dir: Path | str) -> dict[str, Any]:
        """Curate, write ``train`` / ``valid`` files and ``manifest.json``; returns the manifest."""
        out = Path(out_dir)
        if out.exists() and any(out.iterdir()) and not (out / "manifest.json").is_file():
            raise UserError(f"{out} exists and is not an export directory; choose a new --out")
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        rows, removed = self.curate()
        ext = self.cfg.file_format
        files: dict[str, str] = {}
        counts: dict[str, int] = {}
        theorems: dict[str, int] = {}
        for split in ("train", "valid"):
            part = [r for r in rows if r["split"] == split]
            path = out / f"{split}.{ext}"
            _write_rows(path, part, ext)
            files[split] = path.name
            counts[split] = len(part)
            theorems[split] = len({r["theorem"] for r in part})
        leaks = check_no_leak(out, files.values(), self.holdout, ext)
        manifest = {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "kind": self.kind,
            "prompt_format": self.proof_format.name if self.kind == "whole" else self.render.name,
            "whole": {
                "model": self.whole.model,
                "prompt_format": self.proof_format.name,
                "chat": self.proof_format.chat,
            },
            "generator": {
                "model": self.render.gen.model,
                "prompt_format": self.render.gen.prompt_format,
                "prompt_template": self.render.gen.prompt_template,
                "max_input_tokens": self.render.gen.max_input_tokens,
                "critic_prompt_template": self.render.gen.critic.prompt_template,
            },
            "created": time.time(),
            "inputs": self.inputs,
            "read": dict(self.read),
            "skipped": dict(self.skipped),
            "removed": removed,
            "rows": counts,
            "theorems": theorems,
            "files": files,
            "split": {"rule": "md5(theorem name) < valid_fraction", "valid_fraction": self.cfg.valid_fraction},
            "holdout": {
                "sets": self.holdout.specs,
                "names": len(self.holdout.names),
                "statements": len(self.holdout.statements),
                "rows_dropped": removed.get("holdout", 0),
                "check": {"rows_checked": sum(counts.values()), "leaks": leaks},
            },
            "curation": self.cfg.model_dump(mode="json"),
            "seconds": round(time.monotonic() - t0, 3),
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        return manifest


def _write_rows(path: Path, rows: list[dict[str, Any]], ext: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if ext == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), tmp)
    else:
        with tmp.open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def read_rows(path: Path | str) -> list[dict[str, Any]]:
    """The rows of one exported file (JSONL or Parquet)."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def check_no_leak(out: Path, files: Iterable[str], holdout: Holdout, ext: str) -> int:
    """Re-read the written files; a held-out theorem in them is an error (the files are removed)."""
    leaks = 0
    for name in files:
        for r in read_rows(out / name):
            if holdout.hit(r.get("theorem", ""), r.get("statement", "")):
                leaks += 1
    if leaks:
        for name in files:
            (out / name).unlink(missing_ok=True)
        raise UserError(f"{out}: {leaks} rows of held-out theorems reached the output; nothing was written")
    return leaks


def load_manifest(data_dir: Path | str) -> dict[str, Any]:
    """The manifest of an export directory, checked (one-line errors for what a trainer cannot use)."""
    p = Path(data_dir) / "manifest.json"
    if not p.is_file():
        raise UserError(f"{data_dir}: no manifest.json (make the data with `prover data export`)")
    try:
        m = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as e:
        raise UserError(f"{p}: not JSON ({e})") from e
    if m.get("schema") != SCHEMA:
        raise UserError(f"{p}: not a training export (schema {m.get('schema')!r})")
    if int(m.get("version", 0)) > SCHEMA_VERSION:
        raise UserError(f"{p}: export schema {m['version']} is newer than this prover reads ({SCHEMA_VERSION})")
    return m
