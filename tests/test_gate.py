"""The soundness gate: the static screen, the gate's decisions on a scripted runner (each hole of issue 8 has a
regression test here that fails on the gate before the fix), and the gate driving the REPL protocol double
through a real `ReplProcess`.

Scripted answers say how we know Lean answers that way; where only the static screen decides, Lean's answer
does not matter (the gate never sends a rejected text)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED

from prover.config import load_config
from prover.errors import UserError
from prover.lean.config import LeanConfig, TextPolicy
from prover.lean.gate import (
    REF_SUFFIX,
    SoundnessGate,
    lean_name,
    parse_axioms,
    screen_text,
    split_header,
    statement_head,
)
from prover.lean.syntax import scan
from prover.lean.types import (
    CommandResult,
    LeanError,
    LeanInputError,
    Message,
    Pos,
    Theorem,
    parse_command_response,
    parse_tactic_response,
)

REPO = Path(__file__).resolve().parents[1]
DOUBLE = REPO / "tests" / "double" / "repl_double.py"

# ---------------------------------------------------------------------------------------------------
# Helpers


def test_parse_axioms_forms() -> None:
    assert parse_axioms("'foo' depends on axioms: [propext, Classical.choice, Quot.sound]") == (
        "foo",
        ("propext", "Classical.choice", "Quot.sound"),
    )
    assert parse_axioms("'one_add_one' depends on axioms: [Lean.ofReduceBool,\n Lean.trustCompiler]") == (
        "one_add_one",
        ("Lean.ofReduceBool", "Lean.trustCompiler"),
    )
    assert parse_axioms("'Foo.bar' does not depend on any axioms") == ("Foo.bar", ())
    assert parse_axioms("unknown constant 'x'") is None
    assert parse_axioms("'t' does not depend on any axioms\nbut here is more") is None  # the whole message


def test_statement_helpers() -> None:
    assert statement_head("/-- d -/\ntheorem t (x : ℕ) :\n  x = x := by") == "theorem t (x : ℕ) :\n  x = x"
    assert statement_head("theorem t : True :=") == "theorem t : True"
    assert lean_name("foo.bar'") == "foo.bar'"
    assert lean_name("mathd_algebra_478") == "mathd_algebra_478"
    assert lean_name("1st.b") == "«1st».b"
    assert lean_name("A.«x/-»") == "A.«x/-»"
    assert split_header("import Mathlib\ntheorem x : True := trivial") == (
        "import Mathlib\n",
        "theorem x : True := trivial",
        1,
    )


# ---------------------------------------------------------------------------------------------------
# The gate's decisions, on a scripted command runner


class FakeRunner:
    """Answers commands from a list of (needle, answer) rules (first rule whose needle is in the command);
    records what it was sent. A command no rule matches gets an empty answer with a new env (Lean's answer to a
    command with no messages)."""

    lean_version = "4.24.0-fake"

    def __init__(self, rules: list[tuple[str, dict[str, Any]]], header_error: str | None = None):
        self.rules = rules
        self.sent: list[tuple[str, int | None]] = []
        self.headers: list[str] = []
        self.header_error = header_error
        self.n_env = 1

    def header_env(self, header: str) -> int:
        self.headers.append(header)
        if self.header_error:
            raise LeanInputError(self.header_error)
        return 0

    def command(self, cmd: str, env: int | None = None, **kw: Any) -> CommandResult:
        self.sent.append((cmd, env))
        answer = next((dict(a) for needle, a in self.rules if needle in cmd), {})
        if "message" not in answer:
            answer["env"] = self.n_env
            self.n_env += 1
        return parse_command_response(answer)

    def audits(self) -> list[str]:
        return [c for c, _ in self.sent if c.startswith("#print")]


def info(data: str) -> dict[str, Any]:
    return {"severity": "info", "pos": {"line": 1, "column": 0}, "data": data}


def axioms(name: str, *ax: str) -> dict[str, Any]:
    """Lean's answer to ``#print axioms NAME`` (wording of Lean.Elab.Print, as in the REPL transcripts)."""
    data = f"'{name}' depends on axioms: [{', '.join(ax)}]" if ax else f"'{name}' does not depend on any axioms"
    return {"messages": [info(data)]}


def error(data: str, line: int = 1, column: int = 0) -> dict[str, Any]:
    return {"messages": [{"severity": "error", "pos": {"line": line, "column": column}, "data": data}]}


TH = Theorem("t1", "theorem t1 (x : ℕ) : x + 0 = x := by", header="import Mathlib")


def test_sound_proof_and_requests_sent() -> None:
    r = FakeRunner([("#print axioms", axioms("t1", "propext"))])
    res = SoundnessGate().check(r, TH, TH.with_proof("simp"))
    assert res.sound and res.reasons == () and res.axioms == ("propext",)
    assert res.lean_version == "4.24.0-fake"
    (ref, ref_env), (body, body_env), (audit, _), (same, _) = r.sent
    assert ref == f"theorem t1{REF_SUFFIX} (x : ℕ) : x + 0 = x := sorry" and ref_env == 0
    assert body == TH.with_proof("simp") and body_env == 1  # the text runs after the reference
    assert audit == "#print axioms _root_.t1"
    assert same == f"example : type_of% @_root_.t1{REF_SUFFIX} := @_root_.t1"
    assert r.headers == ["import Mathlib"]


def test_rejects_disallowed_axioms_and_sorry() -> None:
    r = FakeRunner([("#print axioms", axioms("t1", "propext", "Lean.ofReduceBool"))])
    res = SoundnessGate().check(r, TH, TH.with_proof("native_decide"))
    assert not res.sound and "Lean.ofReduceBool" in res.reasons[0] and "native_decide" in res.reasons[0]
    # allowed_axioms is configurable
    assert SoundnessGate(["propext", "Lean.ofReduceBool"]).check(r, TH, TH.with_proof("native_decide")).sound
    warn = {"severity": "warning", "pos": {"line": 1, "column": 8}, "data": "declaration uses `sorry`"}
    r = FakeRunner(
        [
            ("by\n  sorry", {"messages": [warn], "sorries": [{"goal": "⊢ x", "proofState": 0}]}),
            ("#print axioms", axioms("t1", "sorryAx")),
        ]
    )
    res = SoundnessGate().check(r, TH, TH.with_proof("sorry"))
    assert not res.sound and "contains sorry" in res.reasons and any("sorryAx" in x for x in res.reasons)
    assert res.sorries[0].goal == "⊢ x"


def test_errors_are_reported_with_positions_of_the_text() -> None:
    err = {"severity": "error", "pos": {"line": 2, "column": 2}, "endPos": {"line": 2, "column": 6}, "data": "boom"}
    r = FakeRunner([("linarith", {"messages": [err]})])
    text = "import Mathlib\nimport Aesop\n" + TH.with_proof("linarith")
    res = SoundnessGate().check(r, TH, text)
    assert not res.sound and res.messages[0].pos == Pos(4, 2)  # shifted past the two import lines
    assert res.messages[0].format("F.lean") == "F.lean:4:2: error: boom"
    assert not r.audits()  # no audit of a failed text
    assert r.headers == ["import Mathlib\nimport Aesop\n"]  # the theorem's header + the text's extra import


def test_rejects_changed_statement_and_missing_theorem() -> None:
    r = FakeRunner([("#print axioms", axioms("t1"))])
    res = SoundnessGate().check(r, TH, "theorem t1 (x : ℕ) : x + 0 = x + 0 := by\n  simp")
    assert not res.sound and "the statement of t1 was changed" in res.reasons
    res = SoundnessGate().check(r, TH, "theorem t2 (x : ℕ) : x + 0 = x := by\n  simp")
    assert not res.sound and "does not contain the statement of t1" in res.reasons[0]
    # the statement in a comment does not count
    res = SoundnessGate().check(r, TH, "-- theorem t1 (x : ℕ) : x + 0 = x := by\ntheorem t1 : True := trivial")
    assert not res.sound
    # whitespace and comments inside the statement do not matter; `lemma` for `theorem` is fine
    ok = "lemma t1 (x : ℕ) :\n    x + 0 = x -- same\n  := by\n  simp"
    assert SoundnessGate().check(r, TH, ok).sound
    assert not r.sent[-4][0].startswith("lemma")  # the reference keeps the theorem's own keyword


def test_reference_mismatch_is_rejected() -> None:
    """Same tokens, other meaning: an `open` before the theorem can make a name in the statement resolve
    elsewhere; Lean then rejects `example : type_of% @REF := @TARGET` (a type mismatch, as Lean reports for
    any two constants of different types)."""
    exp = Theorem("t_exp", "theorem t_exp (x : ℝ) : exp x > 0 := by", header="import Mathlib\nopen Real")
    r = FakeRunner([("#print axioms", axioms("t_exp", "propext")), ("type_of%", error("type mismatch"))])
    res = SoundnessGate().check(r, exp, "open Complex\n" + exp.with_proof("positivity"))
    assert not res.sound and res.reasons == ("t_exp does not prove the original statement",)


def test_rejects_axiom_declarations_and_kernel_tricks() -> None:
    r = FakeRunner([("#print axioms", axioms("t1", "propext"))])
    res = SoundnessGate().check(r, TH, "axiom cheat : False\n" + TH.with_proof("exact cheat.elim"))
    assert not res.sound and res.reasons == ("line 1: declares an axiom",)
    res = SoundnessGate().check(r, TH, "set_option debug.skipKernelTC true\n" + TH.with_proof("simp"))
    assert not res.sound and "skipKernelTC" in res.reasons[0]
    res = SoundnessGate().check(r, TH, "run_meta modifyEnv id\n" + TH.with_proof("simp"))
    assert not res.sound and "run_meta" in res.reasons[0] and any("modifyEnv" in x for x in res.reasons)
    assert not r.sent  # the static screen decided: Lean never saw these texts
    # the words in comments are fine
    text = "-- axiom, skipKernelTC\n" + TH.with_proof("simp -- not an axiom /- run_tac -/")
    assert SoundnessGate().check(r, TH, text).sound


def test_several_lemmas_audit_the_target() -> None:
    r = FakeRunner([("#print axioms _root_.t1", axioms("t1", "propext", "Classical.choice"))])
    text = "lemma helper (x : ℕ) : x = x := rfl\n\n" + TH.with_proof("simp [helper]")
    res = SoundnessGate().check(r, TH, text)
    assert res.sound and r.audits() == ["#print axioms _root_.t1"]


def test_namespaced_target() -> None:
    """`theorem Foo.t1` may be written inside `namespace Foo`; `t1` inside `namespace Foo` is another theorem."""
    foo = Theorem("Foo.t1", "theorem Foo.t1 (x : ℕ) : x + 0 = x := by", header="import Mathlib")
    r = FakeRunner([("#print axioms _root_.Foo.t1", axioms("Foo.t1", "propext"))])
    res = SoundnessGate().check(r, foo, "namespace Foo\n" + TH.with_proof("simp") + "\nend Foo")
    assert res.sound, res.reasons
    assert f"example : type_of% @_root_.Foo.t1{REF_SUFFIX} := @_root_.Foo.t1" in [c for c, _ in r.sent]
    res = SoundnessGate().check(FakeRunner(r.rules), TH, "namespace Foo\n" + TH.with_proof("simp") + "\nend Foo")
    assert not res.sound and res.reasons == ("the text does not contain the statement of t1 (it declares Foo.t1)",)


def test_example_is_renamed_and_columns_mapped_back() -> None:
    ex = Theorem("ex", "example (x : ℕ) : x + 0 = x := by")
    err = {"severity": "error", "pos": {"line": 1, "column": 50}, "data": "late error"}
    r = FakeRunner(
        [
            ("#print axioms _root_.prover_gate_example_0", axioms("prover_gate_example_0")),
            ("omega", {"messages": [err]}),
        ]
    )
    res = SoundnessGate().check(r, ex, ex.with_proof("simp"))
    assert res.sound, res.reasons
    assert r.sent[0][0] == f"noncomputable def prover_gate_example{REF_SUFFIX} (x : ℕ) : x + 0 = x := sorry"
    assert r.sent[1][0].startswith("noncomputable def prover_gate_example_0 (x : ℕ)")
    res = SoundnessGate().check(r, ex, "example (x : ℕ) : x + 0 = x := by omega")
    shift = len("noncomputable def prover_gate_example_0") - len("example")
    assert res.messages[0].pos == Pos(1, 50 - shift)


def test_check_file_audits_every_theorem_or_the_named_one() -> None:
    text = "import Mathlib\n\ntheorem a : True := trivial\nlemma b : True := trivial\nexample : True := trivial\n"
    r = FakeRunner(
        [
            ("#print axioms _root_.a", axioms("a")),
            ("#print axioms _root_.b", axioms("b", "sorryAx")),
            ("#print axioms _root_.prover_gate_example_0", axioms("prover_gate_example_0")),
        ]
    )
    res = SoundnessGate().check_file(r, text)
    assert r.audits() == [
        "#print axioms _root_.a",
        "#print axioms _root_.b",
        "#print axioms _root_.prover_gate_example_0",
    ]
    assert not res.sound and res.reasons == ("b uses disallowed axiom(s) sorryAx (sorry)",)
    assert SoundnessGate().check_file(FakeRunner(r.rules), text, ["a"]).sound
    res = SoundnessGate().check_file(FakeRunner(r.rules), text, ["nope"])
    assert not res.sound and "no declaration named nope" in res.reasons[0]
    assert not any(REF_SUFFIX in c for c, _ in r.sent)  # no reference statement without a Theorem


def test_header_error_and_protocol_error() -> None:
    res = SoundnessGate().check(FakeRunner([], header_error="unknown module prefix 'Foo'"), TH, TH.with_proof("simp"))
    assert not res.sound and res.reasons[-1].startswith("header: unknown module prefix")
    r = FakeRunner([("simp", {"message": "Unknown environment."})])
    res = SoundnessGate().check(r, TH, TH.with_proof("simp"))
    assert not res.sound and "Lean: Unknown environment." in res.reasons


def test_failed_audit_is_not_sound() -> None:
    unknown = error("Unknown constant `t1`", column=14)
    r = FakeRunner([("#print axioms", unknown)])
    res = SoundnessGate().check(r, TH, TH.with_proof("simp"))
    assert not res.sound and res.reasons[0].startswith("axiom audit of t1 failed")
    # an answer without the axioms line (e.g. `#exit` swallowed it) is not sound either
    r = FakeRunner([("#print axioms", {})])
    assert not SoundnessGate().check(r, TH, TH.with_proof("simp")).sound


def test_answer_without_env_is_not_sound() -> None:
    """No env for the text means no axiom audit ran: the gate must not fail open."""

    class NoEnvForText(FakeRunner):
        def command(self, cmd: str, env: int | None = None, **kw: Any) -> CommandResult:
            res = super().command(cmd, env, **kw)
            return CommandResult(env=None) if cmd == TH.with_proof("simp") else res

    r = NoEnvForText([("#print axioms", axioms("t1", "propext"))])
    res = SoundnessGate().check(r, TH, TH.with_proof("simp"))
    assert not res.sound and "no env" in res.reasons[0]
    assert not r.audits()


def test_message_format_for_check_result() -> None:
    m = Message("error", "unsolved goals", Pos(3, 4))
    assert m.format("x.lean") == "x.lean:3:4: error: unsolved goals"


# ---------------------------------------------------------------------------------------------------
# Issue 8's holes: each test fails on the gate before the fix (checked against main at d42ddf6).


def test_hole1_escaped_option_name_in_a_single_tactic() -> None:
    """`set_option debug.«skipKernelTC» true in decide +kernel`: the escaped name is the same option; with it
    `decide +kernel`'s auxiliary lemma skips the kernel and the audit shows no axioms (issue 8, found by
    attack). Lean's answer would be clean, so the screen alone must refuse it."""
    r = FakeRunner([("#print axioms", axioms("t5"))])  # what Lean would say: no axioms
    t5 = Theorem("t5", "theorem t5 : 2 + 2 = 5 := by", header="import Mathlib")
    for tac in (
        "set_option debug.«skipKernelTC» true in decide +kernel",
        "set_option «debug».skipKernelTC true in decide",
    ):
        res = SoundnessGate().check(r, t5, t5.with_proof(tac))
        assert not res.sound and "skipKernelTC" in res.reasons[0], tac
    assert not r.sent


def test_hole1_option_built_in_strings_and_masker_desync() -> None:
    """The option name built from strings in `run_tac`; a raw string `r#"a"b"#` that put the old masker out of
    step so a later `set_option debug.skipKernelTC` looked like string contents; `«--»` that looked like a
    comment to it."""
    r = FakeRunner([("#print axioms", axioms("t1"))])
    built = 'run_tac do\n    let o := "debug.skip" ++ "KernelTC"\n    pure ()\n  simp'
    res = SoundnessGate().check(r, TH, TH.with_proof(built))
    assert not res.sound and any("run_tac" in x for x in res.reasons)
    desync = 'have h : r#"a"b"#.length = 3 := by decide\n  set_option debug.skipKernelTC true in simp -- "'
    res = SoundnessGate().check(r, TH, TH.with_proof(desync))
    assert not res.sound and any("skipKernelTC" in x for x in res.reasons)
    dashes = "have «--» : True := trivial; set_option debug.skipKernelTC true in simp"
    res = SoundnessGate().check(r, TH, TH.with_proof(dashes))
    assert not res.sound and any("skipKernelTC" in x for x in res.reasons)


def test_hole2_audit_names_exactly_the_target() -> None:
    """After `namespace Foo … end Foo` + `open Foo`, `#print axioms t1` resolves to both `Foo.t1` and `t1` and
    Lean prints one message per candidate (`Foo.t1` first: the order of Lean's overload resolution, as the
    issue's attack recorded). The gate audits `_root_.t1`, which names one constant, and rejects any answer
    about another name."""
    text = (
        "namespace Foo\ntheorem t1 : True := trivial\nend Foo\nopen Foo\n\n" + TH.with_proof("native_decide")
    )
    two = {
        "messages": [
            info("'Foo.t1' does not depend on any axioms"),
            info("'t1' depends on axioms: [Lean.ofReduceBool]"),
        ]
    }
    r = FakeRunner([("#print axioms _root_.t1", axioms("t1", "Lean.ofReduceBool")), ("#print axioms t1", two)])
    res = SoundnessGate().check(r, TH, text)
    assert not res.sound and res.reasons == (
        "t1 uses disallowed axiom(s) Lean.ofReduceBool (native_decide / ofReduceBool)",
    )
    assert r.audits() == ["#print axioms _root_.t1"]
    # an answer that mentions another constant is never taken for the target's
    r = FakeRunner([("#print axioms", two)])
    res = SoundnessGate().check(r, TH, TH.with_proof("simp"))
    assert not res.sound and "not its axioms (about 'Foo.t1')" in res.reasons[0]


@pytest.mark.parametrize(
    "prefix",
    [
        'macro_rules | `(#print axioms $_) => `(#print "\'t1\' does not depend on any axioms")\n',
        "macro_rules | `(type_of% $_) => `(Prop)\n",
        'elab "#print" "axioms" _n:ident : command => pure ()\n',
        "@[command_elab Lean.Parser.Command.printAxioms] def fake : Lean.Elab.Command.CommandElab := fun _ => ()\n",
        "syntax \"#print axioms\" ident : command\n",
        "notation \"ℕ\" => Bool\n",
        "local infix:50 \" =' \" => Eq\n",
        "attribute [local instance] Classical.propDecidable\n",
        "initialize pure ()\n",
        "run_cmd Lean.logInfo \"x\"\n",
        "#eval 1\n",
        "#exit\n",
        "instance : Inhabited Nat := ⟨0⟩\n",
        "opaque cheat : 2 + 2 = 5 := sorry\n",
        "@[implemented_by foo] def bar : Nat := 0\n",
        "unsafe def u : Nat := 0\n",
        "partial def p : Nat → Nat := p\n",
    ],
)
def test_hole3_commands_that_could_fake_the_audit(prefix: str) -> None:
    """Model text may hold only what a proof needs; each of these commands is refused before Lean runs it
    (with it, Lean would expand the user's macro first and print whatever it says)."""
    r = FakeRunner([("#print axioms", axioms("t1"))])  # the faked answer
    res = SoundnessGate().check(r, TH, prefix + TH.with_proof("native_decide"))
    assert not res.sound and res.reasons, prefix
    assert not r.sent


def test_hole3_policy_allows_helper_lemmas_and_is_typed_config() -> None:
    """The default policy lets whole-proof / repair texts carry helper lemmas, defs, opens, namespaces and
    allowed options; the policy is `lean.text_policy` (pydantic), with one-line errors."""
    r = FakeRunner([("#print axioms", axioms("t1", "propext"))])
    text = (
        "import Mathlib\nimport Aesop\nset_option maxHeartbeats 400000\nopen BigOperators Real Nat\n\n"
        "namespace Helpers\n@[simp] lemma h0 (x : ℕ) : x + 0 = x := by simp\nend Helpers\n"
        "noncomputable def c : ℕ := 0\n\n"
        + TH.with_proof("set_option maxRecDepth 1000 in\nsimp [Helpers.h0]")
    )
    assert SoundnessGate().check(r, TH, text).sound
    cfg = load_config(None, ["lean.text_policy.options=[maxHeartbeats]"])
    res = SoundnessGate.from_config(cfg.lean).check(FakeRunner(r.rules), TH, text)
    assert not res.sound and res.reasons == ("line 12: set_option maxRecDepth is not allowed (lean policy `options`)",)
    with pytest.raises(UserError, match="unknown command kind"):
        load_config(None, ["lean.text_policy.commands=[theorem, frobnicate]"])
    with pytest.raises(UserError, match="never be allowed"):
        load_config(None, ["lean.text_policy.commands=[theorem, axiom]"])
    assert LeanConfig().verify == "repl" and TextPolicy().meta is False


def test_hole4_check_file_sees_every_declaration() -> None:
    """`def «x/-» := 0` made the old scanner read a block comment up to `«-/»`, hiding `theorem bad`."""
    text = (
        "import Mathlib\n\ndef «x/-» := 0\ntheorem bad : 2 + 2 = 5 := by native_decide\ndef «-/» := 0\n"
        "theorem good : True := trivial\n"
    )
    r = FakeRunner(
        [
            ("#print axioms _root_.bad", axioms("bad", "Lean.ofReduceBool")),
            ("#print axioms _root_.good", axioms("good")),
            ("#print axioms bad", axioms("bad", "Lean.ofReduceBool")),
            ("#print axioms good", axioms("good")),
        ]
    )
    res = SoundnessGate().check_file(r, text)
    assert not res.sound and res.reasons == (
        "bad uses disallowed axiom(s) Lean.ofReduceBool (native_decide / ofReduceBool)",
    )


def test_hole5_dotted_theorem_name_elaborates_like_the_original() -> None:
    """`theorem Nat.foo` opens namespace `Nat` for its own statement (Lean 4's rule for declaration names with
    a prefix), so `succ` means `Nat.succ`. Wrapped as `ProverGateRef.Nat.foo` it would open
    `ProverGateRef.Nat` instead and `succ` would be unknown: the scripted error below is what Lean says for an
    unknown name. The reference is now `Nat.foo_prover_gate_ref`, in the same namespace."""
    nat = Theorem("Nat.foo", "theorem Nat.foo (n : ℕ) : succ n ≠ 0 := by", header="import Mathlib")
    r = FakeRunner(
        [
            ("namespace ProverGateRef", error("unknown identifier 'succ'", 2, 25)),
            ("#print axioms", axioms("Nat.foo", "propext")),
        ]
    )
    res = SoundnessGate().check(r, nat, nat.with_proof("simp"))
    assert res.sound, res.reasons
    assert r.sent[0][0] == f"theorem Nat.foo{REF_SUFFIX} (n : ℕ) : succ n ≠ 0 := sorry"


def test_hole5_example_of_a_type_that_is_not_a_prop() -> None:
    """`example : ℕ := 3` checked as a theorem fails in Lean ("type of theorem … is not a proposition", Lean's
    wording for a non-Prop theorem type); as a `noncomputable def` it elaborates."""
    text = "import Mathlib\n\nexample : ℕ := 3\n"
    r = FakeRunner(
        [
            ("theorem prover_gate_example_0 : ℕ", error("type of theorem 'prover_gate_example_0' is not a Prop")),
            ("#print axioms", axioms("prover_gate_example_0")),
        ]
    )
    res = SoundnessGate().check_file(r, text)
    assert res.sound, res.reasons


def test_hole5_module_system_file_gets_a_clear_reason() -> None:
    text = "module\n\npublic import Mathlib\n\npublic theorem t : True := trivial\n"
    r = FakeRunner([("#print axioms", axioms("t"))])
    res = SoundnessGate().check_file(r, text)
    assert not res.sound and any("module system" in x and "--strict" in x for x in res.reasons)
    assert not r.sent


def test_hole6_statement_comparison_on_tokens() -> None:
    """Deleting all whitespace made `(a b : ℕ)` equal `(ab : ℕ)`."""
    t6 = Theorem("t6", "theorem t6 (a b : ℕ) : a + b = b + a := by", header="import Mathlib")
    r = FakeRunner([("#print axioms", axioms("t6", "propext"))])
    res = SoundnessGate().check(r, t6, "theorem t6 (ab : ℕ) : a + b = b + a := by\n  omega")
    assert not res.sound and res.reasons == ("the statement of t6 was changed",)
    assert SoundnessGate().check(r, t6, "theorem t6 (a b:ℕ) :\n    a+b = b+a := by\n  omega").sound


@pytest.mark.shared("fixtures", "repl", "test")
def test_hole7_sorry_with_open_goals_keeps_the_cause() -> None:
    """The REPL's real answer (fixtures/repl/test/name_generator.expected.out): a tactic with a sorry that
    leaves a goal open reports `Incomplete: open goals remain`; the error must name the sorry and keep it."""
    text = (SHARED / "fixtures" / "repl" / "test" / "name_generator.expected.out").read_text()
    answers = [json.loads(b) for b in text.split("\n\n") if b.strip()]
    obj = next(a for a in answers if a.get("sorries") and a.get("goals"))
    r = parse_tactic_response(obj)
    assert isinstance(r, LeanError)
    assert "sorry" in r.error and "1 goal(s) remain" in r.error
    assert [s.goal for s in r.sorries] == ["x : Int\nh0 : x > 0\n⊢ x > 0"] and r.sorries[0].proof_state == 1
    assert r.goals == ("x : Int\nh0 h : x > 0\n⊢ False",)


def test_screen_reports_lines() -> None:
    src = scan("theorem t : True := by\n  trivial\n#eval 1\nset_option debug.foo true\n")
    reasons = screen_text(src, TextPolicy())
    assert reasons == [
        "line 3: `#eval` is not allowed (lean policy `commands`)",
        "line 4: set_option debug.foo is not allowed (lean policy `options`)",
    ]
    assert screen_text(scan('theorem t : True := by\n  trivial /- open\n'), TextPolicy())[0].startswith(
        "line 2: unterminated comment"
    )


# ---------------------------------------------------------------------------------------------------
# On the REPL protocol double, through a real ReplProcess

GOAL = "x : Nat\n⊢ x = x"
SCRIPT = {
    "lean_version": "4.24.0-double",
    "theorems": {
        "t1": {"goals": [GOAL]},
        "prover_gate_example_0": {"goals": [GOAL]},
        "prover_gate_example": {"goals": [GOAL]},
        "helper": {"goals": [GOAL]},
    },
    "tactics": {
        GOAL: {
            "rfl": {"goals": [], "axioms": []},
            "simp": {"goals": [], "axioms": ["propext"]},
            "native_decide": {"goals": [], "axioms": ["propext", "Lean.ofReduceBool"]},
            "choice": {"goals": [], "axioms": ["propext", "Classical.choice", "Quot.sound"]},
            "bad": {"error": "unknown identifier 'bad'"},
        }
    },
}
T1 = Theorem("t1", "theorem t1 (x : Nat) : x = x := by", header="import Mathlib")


@pytest.fixture
def double_proc(tmp_path: Path):
    from prover.lean.repl import ReplProcess

    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    cfg = LeanConfig(timeout=20, header_timeout=20, memory_limit_mb=None, max_rss_mb=None)
    proc = ReplProcess(cfg, command=[sys.executable, str(DOUBLE), "--script", str(script)], cwd=REPO)
    yield proc
    proc.close()


@pytest.mark.parametrize(
    ("proof", "sound", "reason"),
    [
        ("rfl", True, None),
        ("simp", True, None),
        ("choice", True, None),
        ("native_decide", False, "Lean.ofReduceBool"),
        ("sorry", False, "contains sorry"),
        ("bad", False, "unknown identifier 'bad'"),
    ],
)
def test_gate_on_double(double_proc, proof: str, sound: bool, reason: str | None) -> None:
    res = SoundnessGate().check(double_proc, T1, T1.with_proof(proof))
    assert res.sound is sound, res.reasons
    if reason:
        assert any(reason in r for r in res.reasons), res.reasons
    assert res.lean_version is None  # the double runs on no Lean: no version is invented


def test_gate_on_double_statement_axiom_example_file(double_proc) -> None:
    gate = SoundnessGate()
    res = gate.check(double_proc, T1, "theorem t1 (x : Nat) : x = x + 0 := by\n  rfl")
    assert not res.sound and "the statement of t1 was changed" in res.reasons
    res = gate.check(double_proc, T1, "axiom cheat : False\n" + T1.with_proof("rfl"))
    assert not res.sound and "line 1: declares an axiom" in res.reasons
    res = gate.check(
        double_proc, T1, "theorem helper (x : Nat) : x = x := by\n  native_decide\n\n" + T1.with_proof("rfl")
    )
    assert res.sound  # the helper is not used by t1 (the double's t1 does not depend on it)
    ex = Theorem("ex", "example (x : Nat) : x = x := by", header="import Mathlib")
    assert gate.check(double_proc, ex, ex.with_proof("simp")).sound
    assert not gate.check(double_proc, ex, ex.with_proof("native_decide")).sound
    text = "import Mathlib\n\n" + T1.with_proof("rfl") + "\n"
    assert gate.check_file(double_proc, text).sound
    res = gate.check_file(double_proc, "import Mathlib\n\n" + T1.with_proof("bad") + "\n")
    assert not res.sound and res.messages[0].pos.line == 4  # line in the file, header included


# ---------------------------------------------------------------------------------------------------
# Static screening over real published proofs (shared/benchmarks/minif2f_known_proofs.jsonl)

BENCH = SHARED / "benchmarks"


@pytest.mark.shared("benchmarks", "minif2f_known_proofs.jsonl")
def test_static_screen_on_known_proofs() -> None:
    """No false rejection by the static screen (policy + statement) among the published proofs whose statement
    equals the benchmark's, for each statement version the proofs were written against; proofs of another
    version are caught by the statement check."""
    versions = {
        "stmt_matches_primary_text": ["minif2f_valid.jsonl", "minif2f_test.jsonl"],
        "stmt_matches_dsv15_text": ["minif2f_dsv15_valid.jsonl", "minif2f_dsv15_test.jsonl"],
    }
    gate = SoundnessGate()
    for flag, files in versions.items():
        rows = {}
        for f in files:
            for line in (BENCH / f).read_text().splitlines():
                row = json.loads(line)
                rows[row["name"]] = row
        same = caught = 0
        for line in (BENCH / "minif2f_known_proofs.jsonl").read_text().splitlines():
            proof = json.loads(line)
            p = rows.get(proof["name"])
            if p is None:
                continue
            th = Theorem(proof["name"], p["formal_statement"], header=p["header"])
            reasons = gate.screen(th, proof["proof"])
            if proof[flag]:
                assert reasons == (), (flag, proof["name"], reasons)
                same += 1
            elif reasons:
                assert any("statement" in r for r in reasons), reasons
                caught += 1
        assert same >= 300 and caught >= 20, (flag, same, caught)
