"""The soundness gate: the only way a proof leaves the program.

Tactic mode alone accepts bad proofs (repl issue #44: a proof state closed by a term that refers to the
theorem itself, `native_decide`, a `sorry` hidden in a `have`, ...). So a proof is reported only after
the whole theorem text is re-checked in command mode, in a fresh env from the header:

1. static screening of the text: no ``axiom`` declarations, no kernel-skipping options or environment
   editing, and the target declaration starts with the theorem's original statement (whitespace and
   comments ignored);
2. the original statement is elaborated alone (as ``ProverGateRef.NAME``, proved by ``sorry``) in
   the header env, then the text in that env: no error, no ``sorry``;
3. in the env after the text: ``#print axioms NAME`` allows only ``allowed_axioms`` (default
   ``propext``, ``Classical.choice``, ``Quot.sound``: ``native_decide``'s ``Lean.ofReduceBool``,
   ``sorryAx`` and new axioms are rejected), and ``example : type_of% @ProverGateRef.NAME := @NAME`` shows
   that the proved proposition is the original one even if the text redefined notation before it.

The audit covers the target theorem, whose axioms include those of every lemma it uses. An ``example``
has no name, so it is checked as ``theorem prover_gate_example_N`` (columns on that line are mapped
back). Texts that start with ``import`` lines bring their own header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol

from prover.lean import syntax
from prover.lean.types import (
    DEFAULT_ALLOWED_AXIOMS,
    CheckResult,
    CommandResult,
    LeanInputError,
    Message,
    Pos,
    Sorry,
    Theorem,
)

REF_NAMESPACE = "ProverGateRef"  # the original statement is elaborated as ProverGateRef.NAME
EXAMPLE_NAME = "prover_gate_example"


class CommandRunner(Protocol):
    """What the gate needs from a REPL process (`prover.lean.repl.ReplProcess` has it)."""

    lean_version: str | None

    def header_env(self, header: str) -> int: ...

    def command(self, cmd: str, env: int | None = None, **kw) -> CommandResult: ...


# ---------------------------------------------------------------------------------------------------
# Reading Lean source: `prover.lean.syntax` (the project's one tokenizer/scanner)

_FORBIDDEN: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"debug\.skipKernelTC"), "sets debug.skipKernelTC (skips the kernel check)"),
    (
        re.compile(
            r"(?<![\w.])(?:\w+\.)*(?:addDeclCore|addDeclWithoutChecking|modifyEnv|setEnv|unsafeEIO|unsafeIO|unsafeBaseIO)(?![\w'])"
        ),
        "edits the environment by metaprogramming",
    ),
)


def mask_comments_and_strings(text: str, *, strings: bool = True) -> str:
    """``text`` with comments (``--``, nested ``/- -/``, docstrings) and string literals blanked.

    Same length and same newlines as ``text``, so offsets, lines and columns carry over.
    """
    return syntax.mask(text, strings=strings)


@dataclass(frozen=True)
class Decl:
    kind: str  # theorem | lemma | example | axiom | def | ...
    name: str | None  # as written (None for example / anonymous instance)
    full_name: str | None  # with the enclosing namespaces
    start: int  # offset of the keyword
    name_span: tuple[int, int] | None = None  # offsets of the name as written

    @property
    def is_theorem(self) -> bool:
        return self.kind in ("theorem", "lemma")


def find_declarations(text: str) -> list[Decl]:
    """Declarations of ``text`` in order, with names qualified by the enclosing ``namespace``s."""
    return [Decl(d.kind, d.name, d.full_name, d.keyword, d.name_span) for d in syntax.scan(text).declarations]


def split_header(text: str) -> tuple[str, str, int]:
    """Split the header (``module``, ``import`` lines) off ``text``: ``(header, body, lines_in_header)``.

    Comments and blank lines before and among the imports belong to the header.
    """
    return syntax.split_header(text)


def normalize(text: str) -> str:
    """Comments removed and all whitespace dropped: the form in which statements are compared."""
    return re.sub(r"\s+", "", mask_comments_and_strings(text, strings=False))


def statement_head(statement: str) -> str:
    """The statement without its trailing ``:=`` / ``:= by`` and anything before its keyword."""
    stmt = statement.rstrip()
    stmt = re.sub(r"\s*:=\s*(by)?\s*$", "", stmt)
    decls = syntax.scan(stmt).declarations
    if decls:
        stmt = stmt[decls[0].keyword :]
    return stmt


_AXIOMS_RE = re.compile(r"'(?P<name>.+?)' depends on axioms: \[(?P<axioms>[^\]]*)\]", re.S)
_NO_AXIOMS_RE = re.compile(r"'(?P<name>.+?)' does not depend on any axioms")
_SORRY_WARNING_RE = re.compile(r"declaration uses ['`]sorry")


def parse_axioms(data: str) -> tuple[str, tuple[str, ...]] | None:
    """``'foo' depends on axioms: [propext, Quot.sound]`` → ``("foo", ("propext", "Quot.sound"))``."""
    m = _AXIOMS_RE.search(data)
    if m:
        axioms = tuple(a.strip() for a in m.group("axioms").replace("\n", " ").split(",") if a.strip())
        return m.group("name"), axioms
    m = _NO_AXIOMS_RE.search(data)
    if m:
        return m.group("name"), ()
    return None


def lean_name(name: str) -> str:
    """Quote name parts that are not plain identifiers with «»."""
    parts = re.findall(r"«[^»]*»|[^.]+", name)
    out = []
    for p in parts:
        if p.startswith("«") or re.fullmatch(r"[^\W\d][\w'!?]*", p):
            out.append(p)
        else:
            out.append(f"«{p}»")
    return ".".join(out)


# ---------------------------------------------------------------------------------------------------
# The gate


@dataclass
class _Target:
    name: str  # full name to audit
    decl: Decl
    shown: str  # how to name it to the user


@dataclass
class _Prepared:
    body: str  # the text sent to Lean (examples renamed)
    targets: list[_Target]
    reasons: list[str] = field(default_factory=list)
    column_fix: dict[int, tuple[int, int]] = field(default_factory=dict)  # body line → (col, shift)


class SoundnessGate:
    """Re-checks whole theorem texts; see the module docstring. Stateless apart from its settings."""

    def __init__(self, allowed_axioms: Iterable[str] = DEFAULT_ALLOWED_AXIOMS, timeout: float | None = None):
        self.allowed_axioms = frozenset(allowed_axioms)
        self.timeout = timeout

    # -- public ----------------------------------------------------------------------------------

    def check(self, proc: CommandRunner, theorem: Theorem, proof_text: str) -> CheckResult:
        """Is ``proof_text`` (the theorem's statement + proof, maybe with lemmas) a sound proof of ``theorem``?"""
        header, body, offset = split_header(proof_text)
        if not header:
            header = theorem.header
        prep = self._prepare(body, theorem=theorem)
        return self._run(proc, header, prep, offset, reference=theorem)

    def screen(self, theorem: Theorem, proof_text: str) -> tuple[str, ...]:
        """The reasons `check` would reject ``proof_text`` before asking Lean (text screen and statement
        comparison only): an empty tuple does not mean sound, a non-empty one means certainly not."""
        _header, body, _offset = split_header(proof_text)
        return tuple(self._prepare(body, theorem=theorem).reasons)

    def check_file(self, proc: CommandRunner, text: str, names: Iterable[str] | None = None) -> CheckResult:
        """Check a whole file: no error, no sorry, no axiom declaration, and the axioms of ``names``
        (default: every theorem, lemma and example of the file) within the allowed set."""
        header, body, offset = split_header(text)
        prep = self._prepare(body, names=list(names) if names is not None else None)
        return self._run(proc, header, prep, offset, reference=None)

    # -- steps -----------------------------------------------------------------------------------

    def _prepare(self, body: str, *, theorem: Theorem | None = None, names: list[str] | None = None) -> _Prepared:
        reasons: list[str] = []
        src = syntax.scan(body)
        masked = src.masked
        for d in src.declarations:
            if d.kind == "axiom":
                reasons.append(f"declares an axiom{' ' + d.name if d.name else ''}")
        for rx, why in _FORBIDDEN:
            if rx.search(masked):
                reasons.append(why)
        decls = find_declarations(body)
        targets: list[_Target] = []
        column_fix: dict[int, tuple[int, int]] = {}
        examples: list[Decl] = []

        if theorem is not None:
            head = statement_head(theorem.statement)
            want = normalize(head)
            head_decls = find_declarations(head)
            kind = head_decls[0].kind if head_decls else "theorem"
            wanted_name = head_decls[0].name if head_decls and head_decls[0].name else theorem.name
            found: Decl | None = None
            for d in decls:
                if kind == "example" and d.kind != "example":
                    continue
                if kind != "example" and d.name != wanted_name:
                    continue
                if normalize(body[d.start :]).startswith(want + ":="):
                    found = d
                    break
            if found is None:
                same = [d for d in decls if d.name == wanted_name and kind != "example"]
                if same:
                    reasons.append(f"the statement of {wanted_name} was changed")
                else:
                    reasons.append(f"the text does not contain the statement of {wanted_name}")
            elif found.kind == "example":
                examples.append(found)
            else:
                targets.append(_Target(found.full_name or wanted_name, found, found.full_name or wanted_name))
        else:
            for d in decls:
                if names is not None:
                    if d.full_name in names or d.name in names:
                        targets.append(_Target(d.full_name or d.name or "", d, d.name or ""))
                elif d.is_theorem and d.full_name:
                    targets.append(_Target(d.full_name, d, d.full_name))
                elif d.kind == "example":
                    examples.append(d)
            if names is not None:
                missing = [n for n in names if not any(n in (t.decl.full_name, t.decl.name) for t in targets)]
                reasons += [f"no declaration named {n} in the text" for n in missing]

        # examples → named theorems, right to left so offsets stay valid
        new_body = body
        renamed: list[_Target] = []
        for i, d in sorted(enumerate(examples), key=lambda e: -e[1].start):
            name = f"{EXAMPLE_NAME}_{i}"
            repl = f"theorem {name}"
            new_body = new_body[: d.start] + repl + new_body[d.start + len("example") :]
            line = body.count("\n", 0, d.start) + 1
            col = d.start - (body.rfind("\n", 0, d.start) + 1)
            column_fix[line] = (col, len(repl) - len("example"))
            line_no = line
            renamed.append(_Target(name, replace(d, name=name, full_name=name), f"example at line {line_no}"))
        targets += sorted(renamed, key=lambda t: t.decl.start)
        if not targets and not reasons:
            reasons.append("no theorem to check in the text")
        return _Prepared(new_body, targets, reasons, column_fix)

    def _run(
        self, proc: CommandRunner, header: str, prep: _Prepared, offset: int, *, reference: Theorem | None
    ) -> CheckResult:
        reasons = list(prep.reasons)
        try:
            env = proc.header_env(header)
        except LeanInputError as e:
            version = getattr(proc, "lean_version", None)
            return CheckResult(False, reasons=(*reasons, f"header: {e}"), lean_version=version)

        ref_env, ref_name = env, None
        if reference is not None and prep.targets:
            got_ref = _reference_text(reference)
            if got_ref is not None:
                ref = proc.command(got_ref[0], env=env, timeout=self.timeout)
                if ref.ok and ref.env is not None:
                    ref_env, ref_name = ref.env, got_ref[1]
                else:
                    why = ref.error or (ref.errors[0].data if ref.errors else "no env")
                    reasons.append(f"the original statement does not elaborate: {_first_line(why)}")

        res = proc.command(prep.body, env=ref_env, timeout=self.timeout)
        messages = tuple(_shift(m, offset, prep.column_fix) for m in res.messages)
        sorries = tuple(_shift_sorry(s, offset, prep.column_fix) for s in res.sorries)
        if res.error is not None:
            reasons.append(f"Lean: {_first_line(res.error)}")
        elif res.env is None:  # nothing to audit in: never sound by default
            reasons.append("Lean: no env in the answer to the text, so its axioms could not be audited")
        errors = [m for m in messages if m.is_error]
        if errors:
            e0 = errors[0]
            where = f" at {e0.pos.line}:{e0.pos.column}" if e0.pos else ""
            reasons.append(f"{len(errors)} error(s), first{where}: {_first_line(e0.data)}")
        if sorries or any(_SORRY_WARNING_RE.search(m.data) for m in messages):
            reasons.append("contains sorry")

        axioms: list[str] = []
        if res.env is not None and not errors and res.error is None:
            for t in prep.targets:
                audit = proc.command(f"#print axioms {lean_name(t.name)}", env=res.env, timeout=self.timeout)
                got = None
                for m in audit.messages:
                    got = parse_axioms(m.data)
                    if got:
                        break
                if audit.error is not None or audit.errors or got is None:
                    why = audit.error or (audit.errors[0].data if audit.errors else "no answer")
                    reasons.append(f"axiom audit of {t.shown} failed: {_first_line(why)}")
                    continue
                bad = sorted(set(got[1]) - self.allowed_axioms)
                axioms += [a for a in got[1] if a not in axioms]
                if bad:
                    hint = ""
                    if "sorryAx" in bad:
                        hint = " (sorry)"
                    elif "Lean.ofReduceBool" in bad:
                        hint = " (native_decide / ofReduceBool)"
                    reasons.append(f"{t.shown} uses disallowed axiom(s) {', '.join(bad)}{hint}")
            if ref_name is not None:
                t = prep.targets[0]
                same = proc.command(
                    f"example : type_of% @{lean_name(ref_name)} := @{lean_name(t.name)}",
                    env=res.env,
                    timeout=self.timeout,
                )
                if not same.ok:
                    reasons.append(f"{t.shown} does not prove the original statement")
        return CheckResult(
            sound=not reasons,
            messages=messages,
            sorries=sorries,
            axioms=tuple(axioms),
            reasons=tuple(reasons),
            lean_version=getattr(proc, "lean_version", None),
        )


def _reference_text(theorem: Theorem) -> tuple[str, str] | None:
    """``(text, name)``: the theorem's statement proved by ``sorry``, declared in namespace `REF_NAMESPACE`."""
    stmt = theorem.statement
    decls = syntax.scan(stmt).declarations
    if not decls:
        return None
    d = decls[0]
    if d.kind == "example":
        name = EXAMPLE_NAME
        stmt = stmt[: d.keyword] + f"theorem {name}" + stmt[d.keyword + len("example") :]
    else:
        if d.name is None or d.name_span is None:
            return None
        name = d.name
        if name.startswith("_root_."):
            name = name[len("_root_.") :]
            stmt = stmt[: d.name_span[0]] + name + stmt[d.name_span[1] :]
    body = Theorem(name, stmt).sorried()
    return f"namespace {REF_NAMESPACE}\n{body}\nend {REF_NAMESPACE}", f"{REF_NAMESPACE}.{name}"


def _first_line(s: str) -> str:
    s = s.strip()
    return s.splitlines()[0] if s else s


def _shift_pos(p: Pos | None, offset: int, fix: dict[int, tuple[int, int]]) -> Pos | None:
    if p is None:
        return None
    col = p.column
    if p.line in fix:
        c0, shift = fix[p.line]
        if col > c0:
            col = max(c0, col - shift)
    return Pos(p.line + offset, col)


def _shift(m: Message, offset: int, fix: dict[int, tuple[int, int]]) -> Message:
    if not offset and not fix:
        return m
    return replace(m, pos=_shift_pos(m.pos, offset, fix), end_pos=_shift_pos(m.end_pos, offset, fix))


def _shift_sorry(s: Sorry, offset: int, fix: dict[int, tuple[int, int]]) -> Sorry:
    if not offset and not fix:
        return s
    return replace(s, pos=_shift_pos(s.pos, offset, fix), end_pos=_shift_pos(s.end_pos, offset, fix))
