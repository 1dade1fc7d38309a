"""The soundness gate: the only way a proof leaves the program.

Tactic mode alone accepts bad proofs (repl issue #44: a proof state closed by a term that refers to the
theorem itself, `native_decide`, a `sorry` hidden in a `have`, ...), and texts written by a model are
adversarial. So a proof is reported only after the whole text is re-checked in command mode, in a fresh env
from the theorem's header:

1. **Static screen** (`screen_text`, on `prover.lean.syntax`'s tokens, so comments, strings, raw strings, char
   literals and ``«»`` names are read as Lean reads them): no lexical error (unterminated comment/string);
   ``skipKernelTC`` nowhere, in any spelling; no ``axiom``; only the commands, modifiers, attributes,
   ``set_option`` names (anywhere, proofs included) and imports of the `TextPolicy` (``lean.text_policy`` for
   model text, ``lean.file_policy`` for ``prover check``); no meta-level code (``run_tac``, ``by_elab``,
   ``#eval``, macros, elaborators, notation, string/name literals, quotations, environment editing) unless the
   policy allows it. The target declaration is found by its full name and must have the original statement
   token for token (whitespace and comments do not matter; ``(a b : ℕ)`` is not ``(ab : ℕ)``).
2. **Lean**: the original statement is elaborated alone in the header env as ``NAME_prover_gate_ref`` (same
   namespace, so names resolve the same), proved by ``sorry``; then the text in that env: no error, no
   ``sorry``.
3. **Audit**, in the env after the text: ``#print axioms _root_.FULLNAME`` (absolute, so no ``namespace`` /
   ``open`` in the text can redirect it); every message of the answer must name exactly the target, and the
   union of their axioms must lie in ``allowed_axioms`` (default ``propext``, ``Classical.choice``,
   ``Quot.sound``: ``sorryAx``, ``Lean.ofReduceBool`` and new axioms are rejected); and
   ``example : type_of% @_root_.REF := @_root_.TARGET`` shows that the proved proposition is the original one
   even if the text redefined notation before it.

The audit covers the target, whose axioms include those of every lemma it uses. An ``example`` has no name, so
it is checked as ``noncomputable def prover_gate_example_N`` (a ``def``, so an example whose type is data
also works; columns on that line are mapped back). A text may start with its own ``import`` lines: each must be
in the theorem's header or the policy's ``imports``; the header used is the theorem's (plus those imports).
What this does not guarantee, and what strict mode adds: README, "What proved means".
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from prover.lean import syntax
from prover.lean.config import TextPolicy
from prover.lean.syntax import IDENT, NAME, STRING, SYMBOL, Declaration, Source, Token, ident_parts, scan
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

MODULE_SYSTEM_REASON = (
    "the file uses Lean's module system (`module` header), which the REPL gate cannot elaborate command by "
    "command; check it with --strict"
)
REF_SUFFIX = "_prover_gate_ref"  # the original statement is elaborated as NAME_prover_gate_ref
EXAMPLE_NAME = "prover_gate_example"


class CommandRunner(Protocol):
    """What the gate needs from a REPL process (`prover.lean.repl.ReplProcess` has it)."""

    lean_version: str | None

    def header_env(self, header: str) -> int: ...

    def command(self, cmd: str, env: int | None = None, **kw) -> CommandResult: ...


# ---------------------------------------------------------------------------------------------------
# Reading Lean source: `prover.lean.syntax` (the project's one tokenizer/scanner)


def split_header(text: str) -> tuple[str, str, int]:
    """``(header, body, lines_in_header)``: `syntax.split_header`."""
    return syntax.split_header(text)


def statement_tokens(src: Source, d: Declaration) -> tuple[str, ...]:
    """The statement of ``d`` after its name (after the keyword for an ``example``), as token texts: what two
    statements are compared by (the names are compared as full names)."""
    after = d.name_span[0] if d.name_span else d.keyword
    return tuple(t.text for t in src.code[d.tokens[0] : d.tokens[1] + 1] if after < t.start < d.statement_end)


def statement_head(statement: str) -> str:
    """The statement from its keyword to before its ``:=`` (``theorem t (x : ℕ) : x = x``)."""
    decls = scan(statement).declarations
    if not decls:
        return statement.strip()
    d = decls[0]
    return statement[d.keyword : d.statement_end]


_AXIOMS_RE = re.compile(r"'(?P<name>.+?)' depends on axioms: \[(?P<axioms>[^\]]*)\]", re.S)
_NO_AXIOMS_RE = re.compile(r"'(?P<name>.+?)' does not depend on any axioms")
_SORRY_WARNING_RE = re.compile(r"declaration uses ['`]sorry")


def parse_axioms(data: str) -> tuple[str, tuple[str, ...]] | None:
    """``'foo' depends on axioms: [propext, Quot.sound]`` → ``("foo", ("propext", "Quot.sound"))``."""
    m = _AXIOMS_RE.fullmatch(data.strip())
    if m:
        axioms = tuple(a.strip() for a in m.group("axioms").replace("\n", " ").split(",") if a.strip())
        return m.group("name"), axioms
    m = _NO_AXIOMS_RE.fullmatch(data.strip())
    if m:
        return m.group("name"), ()
    return None


def lean_name(name: str) -> str:
    """Quote name parts that are not plain identifiers with «»."""
    out = []
    for p in ident_parts(name) if "«" in name else tuple(name.split(".")):
        if re.fullmatch(r"[^\W\d][\w'!?]*", p):
            out.append(p)
        else:
            out.append(f"«{p}»")
    return ".".join(out)


def same_name(a: str, b: str) -> bool:
    """Two spellings of one Lean name (``«a».b`` = ``a.b`` = ``_root_.a.b``)."""

    def parts(n: str) -> tuple[str, ...]:
        p = ident_parts(n)
        return p[1:] if p[:1] == ("_root_",) else p

    return parts(a) == parts(b)


# ---------------------------------------------------------------------------------------------------
# The static screen

# Meta-level escapes (keywords and tactics that run code at elaboration time), refused unless policy.meta.
META_WORDS = frozenset(
    {
        "run_tac", "by_elab", "run_elab", "run_meta", "run_cmd", "elab", "elab_rules", "macro", "macro_rules",
        "syntax", "declare_syntax_cat", "initialize", "builtin_initialize", "unsafe", "implemented_by", "extern",
        "csimp", "simproc", "dsimproc", "simproc_decl", "dsimproc_decl", "builtin_simproc", "declare_simp_like_tactic",
    }
)
# Functions that edit the environment or escape IO, refused unless policy.meta (any namespace).
ENV_EDITS = frozenset(
    {
        "addDecl", "addDeclCore", "addDeclWithoutChecking", "addAndCompile", "modifyEnv", "setEnv", "unsafeEIO",
        "unsafeIO", "unsafeBaseIO", "unsafeCast", "evalExpr", "evalConst", "ofExcept",
    }
)
# Attributes that install code into the elaborator, refused unless policy.meta (whatever `attributes` says).
META_ATTRIBUTES = frozenset(
    {
        "command_elab", "term_elab", "tactic", "macro", "delab", "app_unexpander", "implemented_by", "extern",
        "csimp", "init", "builtin_init", "command_parser", "term_parser", "tactic_parser", "builtin_command_elab",
        "builtin_term_elab", "builtin_tactic", "builtin_macro", "builtin_delab", "env_extension", "export",
        "simproc", "inherit_doc", "run_builtin_parser_attribute_hooks", "builtin_doc", "match_pattern",
    }
)
_DUAL_USE = frozenset({"open", "set_option"})
_COMMAND_WORDS = syntax.COMMAND_KEYWORDS - syntax.MODIFIERS - _DUAL_USE


def _line(t: Token) -> str:
    return f"line {t.line}"


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def screen_text(src: Source, policy: TextPolicy, *, header_imports: Iterable[str] = ()) -> list[str]:
    """Why ``src`` breaks ``policy`` (one line each, with the line); empty: it passes the static screen."""
    reasons: list[str] = []
    seen: set[str] = set()

    def add(why: str) -> None:
        if why not in seen:
            seen.add(why)
            reasons.append(why)

    for p in src.problems:
        add(f"line {p.line}: {p.message} (Lean would not read the rest as intended)")
    known = set(header_imports)
    for imp in src.header.imports:
        if imp.module not in known and not _matches(imp.module, policy.imports):
            add(f"imports {imp.module}, which neither the theorem's header nor lean.*_policy.imports allows")
    code = src.code
    first = next((k for k, t in enumerate(code) if t.end > src.header.end), len(code))
    for i in range(first, len(code)):
        t = code[i]
        if "skipkerneltc" in t.text.lower():
            add(f"{_line(t)}: mentions skipKernelTC (makes Lean skip the kernel's check)")
            continue
        field_name = i > 0 and code[i - 1].text == "." and code[i - 1].end == t.start
        if t.kind == IDENT and not field_name:
            word = t.text
            if word == "axiom":
                add(f"{_line(t)}: declares an axiom")
            elif word in _COMMAND_WORDS and word not in policy.commands:
                add(f"{_line(t)}: `{word}` is not allowed here (lean policy `commands`)")
            elif word in META_WORDS and not policy.meta:
                add(f"{_line(t)}: `{word}` runs meta-level code, not allowed (lean policy `meta`)")
            elif not policy.meta and any(p in ENV_EDITS for p in t.parts):
                add(f"{_line(t)}: `{word}` edits the environment, not allowed (lean policy `meta`)")
        elif t.kind == SYMBOL and t.text.startswith("#") and len(t.text) > 1 and t.text[1].isalpha():
            if t.text not in policy.commands:
                add(f"{_line(t)}: `{t.text}` is not allowed (lean policy `commands`)")
        elif not policy.meta and (t.kind in (STRING, NAME) or t.text in ("`(", "``(", "`[")):
            what = {STRING: "a string literal", NAME: "a name literal"}.get(t.kind, "a syntax quotation")
            add(f"{_line(t)}: {what} (meta-level code) is not allowed (lean policy `meta`)")
    for o in src.set_options:
        if not _matches(o.name, policy.options):
            line = src.line_col(o.start)[0]
            add(f"line {line}: set_option {o.name} is not allowed (lean policy `options`)")
    for c in src.commands:
        if c.kind not in policy.commands and c.kind not in _DUAL_USE and c.kind not in syntax.COMMAND_KEYWORDS:
            line = src.line_col(c.start)[0]
            if not c.kind.startswith("#"):
                add(f"line {line}: `{c.kind}` does not start a command Lean knows here (or a parse error)")
    for d in src.declarations:
        line = src.line_col(d.head)[0]
        for m in d.modifiers:
            if m not in policy.modifiers:
                add(f"line {line}: modifier `{m}` is not allowed (lean policy `modifiers`)")
        for a in d.attributes:
            words = a.split()
            name = words[1] if len(words) > 1 and words[0] in ("local", "scoped") else (words[0] if words else "")
            if not policy.meta and name in META_ATTRIBUTES:
                add(f"line {line}: attribute `{name}` installs meta-level code, not allowed (lean policy `meta`)")
            elif not _matches(name, policy.attributes):
                add(f"line {line}: attribute `{name}` is not allowed (lean policy `attributes`)")
        if d.kind == "opaque" and d.proof is not None:
            add(f"line {line}: an `opaque` with a body can stand for anything the kernel cannot see")
    return reasons


# ---------------------------------------------------------------------------------------------------
# The gate


@dataclass
class _Target:
    name: str  # full name to audit (as written, escapes kept)
    shown: str  # how to name it to the user
    ref_name: str | None = None  # the reference to compare its type with


@dataclass
class _Prepared:
    header: str  # the header the text is elaborated under
    body: str  # the text sent to Lean (examples renamed)
    offset: int  # lines of the text before `body`
    targets: list[_Target]
    reference: str | None = None  # the reference command (the original statement by sorry)
    reasons: list[str] = field(default_factory=list)
    column_fix: dict[int, tuple[int, int]] = field(default_factory=dict)  # body line → (col, shift)


class SoundnessGate:
    """Re-checks whole theorem texts; see the module docstring. Stateless apart from its settings."""

    def __init__(
        self,
        allowed_axioms: Iterable[str] = DEFAULT_ALLOWED_AXIOMS,
        timeout: float | None = None,
        policy: TextPolicy | None = None,
        file_policy: TextPolicy | None = None,
    ):
        self.allowed_axioms = frozenset(allowed_axioms)
        self.timeout = timeout
        self.policy = policy or TextPolicy()
        self.file_policy = file_policy or TextPolicy.user_file()

    @classmethod
    def from_config(cls, lean: object) -> SoundnessGate:
        """From a `LeanConfig` (``allowed_axioms``, ``timeout``, ``text_policy``, ``file_policy``)."""
        from prover.lean.config import LeanConfig

        assert isinstance(lean, LeanConfig)
        return cls(lean.allowed_axioms, lean.timeout, lean.text_policy, lean.file_policy)

    # -- public ----------------------------------------------------------------------------------

    def header_for(self, theorem: Theorem, proof_text: str) -> str:
        """The header ``proof_text`` is elaborated under: the theorem's, plus the modules the text imports
        that the header does not (when the policy allows them; else the check rejects the text)."""
        return self._header(theorem, scan(proof_text))

    def check(self, proc: CommandRunner, theorem: Theorem, proof_text: str) -> CheckResult:
        """Is ``proof_text`` (the theorem's statement + proof, maybe with lemmas) a sound proof of ``theorem``?"""
        return self._run(proc, self._prepare_text(theorem, proof_text))

    def screen(self, theorem: Theorem, proof_text: str) -> tuple[str, ...]:
        """The reasons `check` would reject ``proof_text`` before asking Lean (text screen and statement
        comparison only): an empty tuple does not mean sound, a non-empty one means certainly not."""
        return tuple(self._prepare_text(theorem, proof_text).reasons)

    def check_file(self, proc: CommandRunner, text: str, names: Iterable[str] | None = None) -> CheckResult:
        """Check a whole file under ``file_policy``: no error, no sorry, no axiom, and the axioms of ``names``
        (default: every theorem, lemma and example of the file) within the allowed set."""
        return self._run(proc, self._prepare_file(text, list(names) if names is not None else None))

    # -- preparing -------------------------------------------------------------------------------

    def _header(self, theorem: Theorem, src: Source) -> str:
        trusted = scan(theorem.header).header
        extra = [i.module for i in src.header.imports if i.module not in trusted.modules]
        if not extra:
            return theorem.header
        head, rest, _ = split_header(theorem.header)
        lines = "".join(f"import {m}\n" for m in dict.fromkeys(extra))
        if head and not head.endswith("\n"):
            head += "\n"
        return head + lines + rest

    def _prepare_text(self, theorem: Theorem, proof_text: str) -> _Prepared:
        full = scan(proof_text)
        _, body, offset = split_header(proof_text)
        src = scan(body)
        trusted = scan(theorem.header).header.modules
        reasons = screen_text(full, self.policy, header_imports=trusted)
        prep = _Prepared(self._header(theorem, full), body, offset, [], reasons=reasons)

        ref_src = scan(theorem.statement)
        ref_decls = ref_src.declarations
        if not ref_decls:
            prep.reasons.append(f"the statement of {theorem.name} is not a declaration Lean can check")
            return prep
        ref = ref_decls[0]
        want = statement_tokens(ref_src, ref)
        kinds = {"theorem", "lemma"} if ref.kind in ("theorem", "lemma") else {ref.kind}
        shown = ref.full_name or theorem.name

        if ref.kind == "example":
            cands = [d for d in src.declarations if d.kind == "example" and statement_tokens(src, d) == want]
            if not cands:
                prep.reasons.append(f"the text does not contain the statement of {theorem.name} (an example)")
                return prep
            target = cands[0]
        else:
            named = [d for d in src.declarations if d.full_name and same_name(d.full_name, shown)]
            if not named:
                last = ident_parts(shown)[-1:]
                others = [
                    d.full_name for d in src.declarations if d.full_name and ident_parts(d.full_name)[-1:] == last
                ]
                where = f" (it declares {', '.join(map(str, others))})" if others else ""
                prep.reasons.append(f"the text does not contain the statement of {shown}{where}")
                return prep
            if len(named) > 1:
                prep.reasons.append(f"the text declares {shown} {len(named)} times")
                return prep
            target = named[0]
            if target.kind not in kinds or statement_tokens(src, target) != want:
                prep.reasons.append(f"the statement of {shown} was changed")
                return prep
            if set(target.modifiers) - {"noncomputable"} != set(ref.modifiers) - {"noncomputable"}:
                mods = " ".join(target.modifiers) or "none"
                prep.reasons.append(f"the statement of {shown} has other modifiers ({mods}) than the original")
                return prep

        reference = _reference_text(theorem, ref_src, ref)
        if reference is None:
            prep.reasons.append(f"the statement of {theorem.name} has no name to check it under")
            return prep
        prep.reference, ref_name = reference
        if target.kind == "example":
            prep.body, prep.column_fix, names = _rename_examples(body, src, [target])
            where = f"example at line {src.line_col(target.keyword)[0] + offset}"
            prep.targets.append(_Target(names[0], where, ref_name))
        else:
            assert target.full_name is not None
            prep.targets.append(_Target(target.full_name, target.full_name, ref_name))
        return prep

    def _prepare_file(self, text: str, names: list[str] | None) -> _Prepared:
        full = scan(text)
        header, body, offset = split_header(text)
        reasons = screen_text(full, self.file_policy, header_imports=full.header.modules)
        if full.header.is_module:
            reasons.append(MODULE_SYSTEM_REASON)
        src = scan(body)
        prep = _Prepared(header, body, offset, [], reasons=reasons)
        examples: list[Declaration] = []
        for d in src.declarations:
            if names is not None:
                if (d.full_name and d.full_name in names) or (d.name and d.name in names):
                    prep.targets.append(_Target(d.full_name or d.name or "", d.name or ""))
            elif d.is_theorem and d.full_name:
                prep.targets.append(_Target(d.full_name, d.full_name))
            elif d.kind == "example":
                examples.append(d)
        if names is not None:
            found = {n for d in src.declarations for n in (d.full_name, d.name) if n}
            prep.reasons += [f"no declaration named {n} in the text" for n in names if n not in found]
        if examples:
            prep.body, prep.column_fix, new = _rename_examples(body, src, examples)
            for d, name in zip(examples, new, strict=True):
                prep.targets.append(_Target(name, f"example at line {src.line_col(d.keyword)[0] + offset}"))
        if not prep.targets and not prep.reasons:
            prep.reasons.append("no theorem to check in the text")
        return prep

    # -- running ---------------------------------------------------------------------------------

    def _run(self, proc: CommandRunner, prep: _Prepared) -> CheckResult:
        reasons = list(prep.reasons)
        version = proc.lean_version
        if reasons:  # the static screen decides: Lean never sees a text it would refuse
            return CheckResult(False, reasons=tuple(reasons), lean_version=version)
        try:
            env = proc.header_env(prep.header)
        except LeanInputError as e:
            return CheckResult(False, reasons=(f"header: {e}",), lean_version=version)

        ref_env = env
        if prep.reference is not None:
            ref = proc.command(prep.reference, env=env, timeout=self.timeout)
            if ref.ok and ref.env is not None:
                ref_env = ref.env
            else:
                why = ref.error or (ref.errors[0].data if ref.errors else "no env")
                why = f"the original statement does not elaborate: {_first_line(why)}"
                return CheckResult(False, reasons=(why,), lean_version=version)

        res = proc.command(prep.body, env=ref_env, timeout=self.timeout)
        messages = tuple(_shift(m, prep.offset, prep.column_fix) for m in res.messages)
        sorries = tuple(_shift_sorry(s, prep.offset, prep.column_fix) for s in res.sorries)
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
                got = self._audit(proc, res.env, t, reasons)
                axioms += [a for a in got if a not in axioms]
                if t.ref_name is not None:
                    same = proc.command(
                        f"example : type_of% @_root_.{lean_name(t.ref_name)} := @_root_.{lean_name(t.name)}",
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
            lean_version=version,
        )

    def _audit(self, proc: CommandRunner, env: int, t: _Target, reasons: list[str]) -> list[str]:
        """``#print axioms _root_.NAME``: every message must be about exactly ``NAME``; their union."""
        audit = proc.command(f"#print axioms _root_.{lean_name(t.name)}", env=env, timeout=self.timeout)
        if audit.error is not None or audit.errors or not audit.messages:
            why = audit.error or (audit.errors[0].data if audit.errors else "no answer")
            reasons.append(f"axiom audit of {t.shown} failed: {_first_line(why)}")
            return []
        union: list[str] = []
        for m in audit.messages:
            got = parse_axioms(m.data)
            if got is None or not same_name(got[0], t.name):
                about = f"about '{got[0]}'" if got else _first_line(m.data)
                reasons.append(f"axiom audit of {t.shown} failed: an answer that is not its axioms ({about})")
                return []
            union += [a for a in got[1] if a not in union]
        bad = sorted(set(union) - self.allowed_axioms)
        if bad:
            hint = ""
            if "sorryAx" in bad:
                hint = " (sorry)"
            elif "Lean.ofReduceBool" in bad:
                hint = " (native_decide / ofReduceBool)"
            reasons.append(f"{t.shown} uses disallowed axiom(s) {', '.join(bad)}{hint}")
        return union


def _reference_text(theorem: Theorem, src: Source, d: Declaration) -> tuple[str, str] | None:
    """``(command, full name)``: the original statement proved by ``sorry`` under the name ``NAME`` +
    `REF_SUFFIX` (the last component suffixed, so the namespace and name resolution stay the same).

    Theorems stay theorems; anything else (``example``, ``instance``, ``def``) becomes a ``noncomputable def``
    of the same type, so no instance or simp lemma of the reference joins the environment."""
    text = src.text
    if d.kind == "example":
        name = written = EXAMPLE_NAME + REF_SUFFIX
        rest = text[d.keyword + len("example") : d.statement_end]
    else:
        if d.name is None or d.name_span is None or d.full_name is None:
            return None
        parts = syntax.written_parts(d.name)
        last = parts[-1]
        last = f"{last[:-1]}{REF_SUFFIX}»" if last.startswith("«") else last + REF_SUFFIX
        written = ".".join([*parts[:-1], last])
        full_parts = syntax.written_parts(d.full_name)
        name = ".".join([*full_parts[:-1], last])
        rest = text[d.name_span[1] : d.statement_end]
    keep = [m for m in d.modifiers if m not in ("private", "protected", "noncomputable")]
    kw = "theorem" if d.kind in ("theorem", "lemma") else "noncomputable def"
    prefix = text[d.outer_start : d.start]  # `open … in` prefixes of the statement
    return f"{prefix}{' '.join([*keep, kw])} {written}{rest} := sorry", name


def _rename_examples(
    body: str, src: Source, examples: list[Declaration]
) -> tuple[str, dict[int, tuple[int, int]], list[str]]:
    """Each example → ``noncomputable def prover_gate_example_N`` (right to left so offsets stay valid)."""
    new_body = body
    fix: dict[int, tuple[int, int]] = {}
    names = [f"{EXAMPLE_NAME}_{i}" for i in range(len(examples))]
    for d, name in sorted(zip(examples, names, strict=True), key=lambda e: -e[0].keyword):
        repl = f"def {name}" if "noncomputable" in d.modifiers else f"noncomputable def {name}"
        new_body = new_body[: d.keyword] + repl + new_body[d.keyword + len("example") :]
        line, col = src.line_col(d.keyword)
        fix[line] = (col, len(repl) - len("example"))
    return new_body, fix, names


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
