"""The sketch mode (DSP+: draft, sketch, prove), one entry ``prove(theorem, seed) -> ProofAttempt``:

1. **draft**: a reasoning model writes numbered one-equation steps from the statement (the informal one too,
   when the benchmark has it; never the human proof); its thinking (up to the last ``</think>``) is removed;
2. **sketch**: a model turns the draft into a Lean skeleton whose steps end in placeholders naming the
   hypotheses they use; the final Lean block of its answer (`prover.models.extract`) has its placeholders
   read and replaced by ``sorry`` (`repair.mask.read_placeholders`: Lean never sees the placeholder, so no
   macro is needed), then goes through the soundness gate's text screen: a sketch that changed the theorem's
   statement is rejected and counted (``altered``; the report lists those theorems: DSP+ found misformalised
   statements this way);
3. **masking**: Lean's errors → `repair.mask.mask_step` → Lean again, until Lean reports only sorries (DSP+'s
   rules; strict mode when the same error lines come back; at most ``max_mask_rounds``);
4. **prove** the placeholders: ``clear * - h…`` keeps what each one names (`repair.mask.clear_lines`), then the
   repair loop's fill stages (`repair.loop.RepairLoop.fill`): the automation portfolio in tactic mode on each
   sorry's REPL proof state, the step prover's search from that state, optionally the whole-proof model on the
   sub-lemma; goals still open are retried once without the ``clear``; splice, and the whole text through the
   gate in the configured verify mode.

Budgets per attempt: ``drafts`` × ``sketches_per_draft`` model answers (DSP+ counts one draft and one sketch
as one attempt), Lean calls and wall time (shared by masking and proving), masking rounds per sketch.
Statuses follow the agent's rules: ``proved`` only through the gate; Lean timing out or crashing on a sketch
skips that sketch (the others still run) and makes an unproved attempt ``error``, never ``failed``; a model
backend that fails raises (the agent records ``error``).
`sketch_then` composes the mode with another (``hybrid`` with ``sketch.first_in_hybrid``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prover.attempt import ProofAttempt
from prover.lean import syntax
from prover.lean.env import LeanEnv, TextEnv
from prover.lean.gate import SoundnessGate
from prover.lean.types import CheckResult, LeanCrashed, LeanTimeout, Theorem
from prover.models.base import ProofGenerator
from prover.models.extract import extract_lean_block, statement_name
from prover.models.filters import Completion
from prover.models.prompts import Messages, render_draft, render_sketch, strip_thinking
from prover.models.whole import BackendSource
from repair import mask as M
from repair.config import RepairConfig
from repair.loop import Budget, RepairLoop, RepairResult, SubgoalProver
from repair.messages import describe, errors
from repair.reassemble import sorry_offsets
from repair.sketch_config import SketchConfig
from repair.tree import Source

log = logging.getLogger(__name__)


class SketchModels:
    """The draft and the sketch model (completion backends, `prover.models.whole.CompletionBackend`); built
    once and shared by a batch's workers. ``*_chat``: prompts go as one user turn (else as raw text).
    ``serial``: backends that must not be called from two threads at once (an in-process engine; an HTTP
    server takes concurrent requests and batches them itself)."""

    def __init__(
        self, draft: Any, sketch: Any, *, draft_chat: bool = True, sketch_chat: bool = True, serial: bool = False
    ) -> None:
        self.draft = draft
        self.sketch = sketch
        self.draft_chat = draft_chat
        self.sketch_chat = sketch_chat
        self._locks = {id(b): threading.Lock() for b in (draft, sketch)} if serial else {}

    def complete(self, backend: Any, prompt: str | Messages, n: int, seed: int | None) -> list[Completion]:
        lock = self._locks.get(id(backend))
        if lock is None:
            return backend.complete([prompt], n, [seed])[0]
        with lock:
            return backend.complete([prompt], n, [seed])[0]

    def close(self) -> None:
        for b in {id(b): b for b in (self.draft, self.sketch)}.values():
            try:
                b.close()
            except Exception:  # noqa: BLE001 - closing one must not keep the other open
                log.warning("closing a sketch-mode model failed", exc_info=True)


_DECODING = {"temperature", "top_p", "max_new_tokens", "record_path", "replay_path"}


def build_sketch_models(cfg: SketchConfig, backends: BackendSource | None = None) -> SketchModels:
    """The backends of ``cfg.draft_model`` / ``cfg.sketch_model`` (roles ``draft`` / ``sketch``), from
    ``backends`` (default: loaded here unless replayed). The same local model (hf / vllm) for both is loaded
    once, and then samples with the draft model's decoding. Backends from a given source are safe to call
    concurrently (`prover.models.whole.BackendSource`); those loaded here are serialised when in-process."""
    from prover.models.whole import build_here, text_decoding

    src = backends or build_here
    d, s = cfg.draft_model, cfg.sketch_model
    draft = src("draft", d, text_decoding(d), logprobs=d.logprobs)
    if d.backend != "openai" and d.model_dump(exclude=_DECODING) == s.model_dump(exclude=_DECODING):
        log.info("draft and sketch model are the same %s model: one engine, the draft model's decoding", d.backend)
        sketch = draft
    else:
        sketch = src("sketch", s, text_decoding(s), logprobs=s.logprobs)
    serial = backends is None and any(c.backend != "openai" and c.replay_path is None for c in (d, s))
    return SketchModels(draft, sketch, draft_chat=d.api == "chat", sketch_chat=s.api == "chat", serial=serial)


def _prompt(text: str, chat: bool) -> str | Messages:
    return [{"role": "user", "content": text}] if chat else text


def classify_screen(reason: str) -> str:
    """What a gate-screen reason says about a sketch: ``altered`` (the statement was changed), ``missing`` (the
    theorem is not declared, or declared twice) or ``policy`` (a forbidden command, import, option …)."""
    if "was changed" in reason or "other modifiers" in reason:
        return "altered"
    if "does not contain the statement" in reason or " times" in reason:
        return "missing"
    return "policy"


def _model_statement(text: str, name: str | None) -> str:
    """The statement the sketch declares for ``name`` (or its first theorem's), as written."""
    src = syntax.scan(text)
    decls = [d for d in src.declarations if d.is_theorem or d.kind == "example"]
    named = [d for d in decls if name is not None and name in (d.name, d.full_name)]
    d = (named or decls or [None])[0]
    if d is None:
        return ""
    return " ".join(text[d.keyword : d.statement_end].split())[:400]


@dataclass
class SketchResult:
    """One sketch through masking and proving."""

    proved: bool = False
    text: str = ""
    stage: str | None = None
    problem: str | None = None  # why it stopped (one line), None when proved
    kind: str | None = None  # a counted problem kind: altered / missing / policy / no_block / mask / …
    closed: Counter[str] = field(default_factory=Counter)
    remaining: list[str] = field(default_factory=list)
    check: CheckResult | None = None
    placeholders: int = 0
    masked_placeholders: int = 0
    mask_rounds: int = 0
    strict_rounds: int = 0
    subgoals: int = 0
    cleared: int = 0
    closed_without_clear: int = 0
    statement: str = ""  # the model's statement, when it was altered


class SketchMode:
    """Mode ``sketch`` (module docstring) over one env and the draft / sketch models."""

    def __init__(
        self,
        config: SketchConfig,
        repair: RepairConfig,
        env: LeanEnv,
        models: SketchModels,
        *,
        proof_generator: ProofGenerator | None = None,
        subgoal_prover: SubgoalProver | None = None,
        screen: Callable[[Theorem, str], tuple[str, ...]] | None = None,
        gate: Callable[[Theorem, str], CheckResult] | None = None,
    ) -> None:
        self.config = config
        self.fill_config = config.fill_config(repair)
        self.env = env
        self.models = models
        self.proof_generator = proof_generator
        self.subgoal_prover = subgoal_prover
        self.screen = screen or SoundnessGate().screen
        self.gate = gate or env.check
        self._infra: Counter[str] = Counter()  # Lean timeouts / crashes on sketches of the current attempt

    # -- one attempt --------------------------------------------------------------------------------

    def prove(self, theorem: Theorem, seed: int = 0, budget: Budget | None = None) -> ProofAttempt:
        """One attempt (the env has started the theorem: the agent checks the statement first)."""
        t0 = time.monotonic()
        cfg = self.config
        budget = budget or Budget(self.env, cfg.max_lean_calls, cfg.time_limit)
        attempt = ProofAttempt(theorem=theorem, status="failed", seed=seed, mode="sketch")
        stats: dict[str, Any] = {"mode": "sketch"}
        tally: Counter[str] = Counter()
        problems: Counter[str] = Counter()
        closed: Counter[str] = Counter()
        best: SketchResult | None = None
        altered: list[str] = []
        infra = self._infra = Counter()
        if not isinstance(self.env, TextEnv):
            attempt.status = "error"
            attempt.error = "mode sketch needs a Lean backend that elaborates texts (the REPL)"
            return self._finish(attempt, t0, budget, stats)
        drafts = self._drafts(theorem, seed, budget, tally, problems)
        for draft in drafts:
            if budget.exhausted():
                stats["stop"] = budget.exhausted()
                break
            for answer in self._sketches(theorem, draft, seed, budget, tally):
                if budget.exhausted():
                    stats["stop"] = budget.exhausted()
                    break
                try:
                    res = self.run_sketch(theorem, answer.text, budget, seed)
                except (LeanTimeout, LeanCrashed) as e:  # this sketch is not judged; the others still run
                    infra[type(e).__name__] += 1
                    continue
                for k in ("placeholders", "masked_placeholders", "mask_rounds", "strict_rounds", "subgoals",
                          "cleared", "closed_without_clear"):
                    tally[k] += getattr(res, k)
                closed.update(res.closed)
                if res.kind is not None:
                    problems[res.kind] += 1
                if res.kind == "altered" and res.statement:
                    altered.append(res.statement)
                if res.proved:
                    stats.update(self._tally(tally, problems, closed, altered))
                    return self._done(attempt, t0, budget, stats, res)
                if best is None or _better(res, best):
                    best = res
        stats.update(self._tally(tally, problems, closed, altered))
        if best is not None:
            stats["reason"] = best.problem
            if best.remaining:
                stats["remaining"] = best.remaining[:8]
        elif not drafts:
            stats["reason"] = "no usable draft"
        return self._finish(attempt, t0, budget, stats)

    def _tally(self, tally, problems, closed, altered) -> dict[str, Any]:
        out: dict[str, Any] = {k: tally[k] for k in ("drafts", "sketches") if k in tally}
        out.update({k: v for k, v in tally.items() if k not in ("drafts", "sketches") and v})
        if problems:
            out["problems"] = dict(problems.most_common())
        out["altered"] = problems.get("altered", 0)
        if altered:
            out["altered_statement"] = altered[0]
        out["closed"] = dict(closed)
        return out

    # -- models ---------------------------------------------------------------------------------------

    def _ask(
        self, backend: Any, prompt: str | Messages, n: int, greedy: bool, seed: int, budget: Budget
    ) -> list[Completion]:
        got = self.models.complete(backend, prompt, 1 if greedy else n, seed)  # greedy samples repeat themselves
        budget.prompt_tokens += max((c.prompt_tokens for c in got), default=0)
        budget.completion_tokens += sum(c.num_tokens for c in got)
        return got

    def _drafts(self, theorem, seed, budget, tally, problems) -> list[str]:
        cfg = self.config
        text = render_draft(theorem, cfg.draft_template, informal=cfg.informal)
        prompt = _prompt(text, self.models.draft_chat)
        got = self._ask(self.models.draft, prompt, cfg.drafts, cfg.draft_model.temperature <= 0, seed, budget)
        tally["drafts"] += len(got)
        out = []
        for c in got:
            draft, problem = strip_thinking(c.text)
            if problem is None and not draft:
                problem = "empty draft"
            if problem is not None:
                problems["draft: " + problem] += 1
                continue
            out.append(draft)
        return out

    def _sketches(self, theorem, draft, seed, budget, tally) -> list[Completion]:
        cfg = self.config
        text = render_sketch(theorem, draft, cfg.sketch_template, placeholder=cfg.placeholder)
        prompt = _prompt(text, self.models.sketch_chat)
        greedy = cfg.sketch_model.temperature <= 0
        got = self._ask(self.models.sketch, prompt, cfg.sketches_per_draft, greedy, seed, budget)
        tally["sketches"] += len(got)
        budget.samples += len(got)
        return got

    # -- one sketch -----------------------------------------------------------------------------------

    def run_sketch(self, theorem: Theorem, answer: str, budget: Budget, seed: int = 0) -> SketchResult:
        """A sketch model's answer through extraction, the screen, masking and proving."""
        name = statement_name(theorem)
        res = SketchResult()
        got = extract_lean_block(answer, name)
        if not got.code:
            return self._stop(res, "no_block", got.reason or "no Lean block in the sketch")
        _, body, _ = syntax.split_header(got.code)
        text, placeholders = M.read_placeholders(body.strip("\n") + "\n", self.config.placeholder)
        res.placeholders = len(placeholders)
        reasons = self.screen(theorem, text)
        if reasons:
            kind = classify_screen(reasons[0])
            if kind == "altered":
                res.statement = _model_statement(text, name)
            return self._stop(res, kind, reasons[0])
        masked = self._mask(theorem, text, placeholders, name, budget, res)
        if masked is None:
            return res
        text, placeholders, el = masked
        res.subgoals = len(el.sorries)
        loop = RepairLoop(
            self.env,
            self.fill_config,
            budget,
            proof_generator=self.proof_generator if self.config.sublemma_samples > 0 else None,
            subgoal_prover=self.subgoal_prover if self.config.search else None,
            screen=self.screen,
            gate=self.gate,
            seed=seed,
        )
        cleared = False
        if self.config.clear and placeholders and el.sorries and budget.exhausted() is None:
            text, el, res.cleared = self._clear(theorem, text, placeholders, el)
            cleared = res.cleared > 0
        out = loop.fill(theorem, text, el, stage="sketch")
        res.closed.update(out.closed)
        retry = cleared and self.config.retry_without_clear and budget.exhausted() is None
        if retry and not out.proved and out.remaining:
            again = M.drop_clears_before(out.text, sorry_offsets(out.text))
            if again != out.text:
                out2 = loop.fill(theorem, again, stage="sketch")
                if out2.proved or out2.closed:
                    res.closed_without_clear = sum(out2.closed.values())
                    res.closed.update(out2.closed)
                    out = out2
        if loop.crashes and not out.proved:  # survived crashes in automation: this sketch was not fully tried
            self._infra["LeanCrashed"] += loop.crashes
        return self._result(res, out)

    def _stop(self, res: SketchResult, kind: str, why: str) -> SketchResult:
        res.kind, res.problem = kind, why
        return res

    def _result(self, res: SketchResult, out: RepairResult) -> SketchResult:
        res.proved, res.text, res.check = out.proved, out.text, out.check
        if out.proved:
            res.stage = out.stage
            return res
        res.remaining = [g.goal for g in out.remaining]
        res.problem = out.reason
        res.kind = "open" if out.remaining else "fill"
        return res

    def _mask(self, theorem, text, placeholders, name, budget, res):
        """Masking rounds until Lean reports no error: ``(text, placeholders, elaboration)``, or None (``res``
        says why)."""
        start = len(placeholders)
        el = self.env.elaborate(theorem, text)  # type: ignore[attr-defined]
        prev: tuple[int, ...] | None = None
        while True:
            if el.error is not None:
                self._stop(res, "lean", f"Lean: {el.error}")
                return None
            if not errors(el.messages):
                res.masked_placeholders = start - len(placeholders)
                return text, placeholders, el
            if res.mask_rounds >= self.config.max_mask_rounds:
                first = describe(errors(el.messages)[0])
                self._stop(res, "mask", f"masking did not converge in {res.mask_rounds} rounds: {first}")
                return None
            why = budget.exhausted()
            if why is not None:
                self._stop(res, "budget", f"budget spent ({why}) while masking")
                return None
            lines = tuple(sorted({m.pos.line for m in M.hard_errors(el.messages) if m.pos is not None}))
            strict = prev is not None and lines == prev and res.mask_rounds >= 2
            st = M.mask_step(text, el.messages, target=name, strict=strict)
            if st.gave_up is None and st.text == text and not strict:  # the rules changed nothing: go strict
                strict = True
                st = M.mask_step(text, el.messages, target=name, strict=True)
            if st.gave_up is not None:
                self._stop(res, "statement", st.gave_up)
                return None
            if st.text == text:
                self._stop(res, "mask", f"masking cannot edit: {describe(errors(el.messages)[0])}")
                return None
            placeholders = M.remap(placeholders, st.edits)
            text, prev = st.text, st.error_lines
            res.mask_rounds += 1
            res.strict_rounds += int(strict)
            el = self.env.elaborate(theorem, text)  # type: ignore[attr-defined]

    def _clear(self, theorem, text, placeholders, el):
        """``clear * - h…`` before the placeholders' sorries; a ``clear`` Lean rejects is dropped (DSP+ drops its
        failing lines); anything else going wrong keeps the text as it was. ``(text, elaboration, count)``."""
        src = Source(text)
        goals = {src.offset(s.pos.line, s.pos.column): s.goal for s in el.sorries if s.pos is not None}
        cl = M.clear_lines(text, placeholders, goals)
        if not cl.inserted:
            return text, el, 0
        new, count = cl.text, cl.inserted
        for _ in range(3):
            el2 = self.env.elaborate(theorem, new)  # type: ignore[attr-defined]
            if el2.error is not None:
                return text, el, 0
            bad = errors(el2.messages)
            if not bad:
                return new, el2, count
            lines = new.split("\n")
            drop = {m.pos.line for m in bad if m.pos is not None and M.CLEAR_RE.fullmatch(lines[m.pos.line - 1])}
            if len(drop) < len(bad):
                return text, el, 0  # an error that is not a clear's: the clears changed something else
            new = "\n".join(line for i, line in enumerate(lines, 1) if i not in drop)
            count -= len(drop)
        return text, el, 0

    # -- the attempt's record ---------------------------------------------------------------------------

    def _done(self, attempt, t0, budget, stats, res: SketchResult) -> ProofAttempt:
        attempt.status = "proved"
        attempt.proof = res.text
        attempt.stage = res.stage
        attempt.lean_version = res.check.lean_version if res.check is not None else None
        attempt.verified_by = res.check.verified_by if res.check is not None else None
        stats["stage"] = res.stage
        return self._finish(attempt, t0, budget, stats)

    def _finish(self, attempt: ProofAttempt, t0: float, budget: Budget, stats: dict[str, Any]) -> ProofAttempt:
        if self._infra:
            stats["infrastructure"] = dict(self._infra)
            if attempt.status == "failed":  # an infrastructure failure is never a final "failed" (resume redoes it)
                what = ", ".join(f"{k} ×{v}" for k, v in self._infra.items())
                attempt.status = "error"
                attempt.error = f"{next(iter(self._infra))}: Lean failed on sketches ({what}); they were not checked"
        expansions = None if self.subgoal_prover is None else self.subgoal_prover.expansions
        return budget.record(attempt, stats, expansions, t0)


def _better(a: SketchResult, b: SketchResult) -> bool:
    """A sketch that reached the proving stage beats one that did not; then fewer open goals, more closed."""
    ka = (a.kind in ("open", "fill"), -len(a.remaining), sum(a.closed.values()))
    kb = (b.kind in ("open", "fill"), -len(b.remaining), sum(b.closed.values()))
    return ka > kb


def sketch_then(sketch: SketchMode, other: Any, theorem: Theorem, seed: int = 0) -> ProofAttempt:
    """``hybrid`` with ``sketch.first_in_hybrid``: one sketch attempt, then (not proved) ``other`` (a
    `repair.modes.WholeProofMode`) on the same budget; the attempt is the other mode's with the sketch's
    record under ``stats["sketch"]`` (samples, tokens, Lean calls and time cover both)."""
    t0 = time.monotonic()
    budget = Budget(sketch.env, other.config.max_lean_calls, other.config.time_limit)
    first = sketch.prove(theorem, seed, budget)
    if first.proved:
        first.mode = other.mode
        first.stats = {**first.stats, "sketch_first": True}
        return first
    att = other.prove(theorem, seed, budget)
    att.stats = {**att.stats, "sketch": first.stats}
    if first.status == "error" and att.status == "failed":  # sketches Lean never judged: still to be redone
        att.status, att.error = "error", first.error
    att.time = time.monotonic() - t0
    return att
