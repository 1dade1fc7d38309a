"""The soundness gate: source scanning helpers, the gate's decisions on a scripted runner, and the gate
driving the REPL protocol double through a real `ReplProcess`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from prover.lean.config import LeanConfig
from prover.lean.gate import (
    REF_NAMESPACE,
    SoundnessGate,
    find_declarations,
    lean_name,
    mask_comments_and_strings,
    normalize,
    parse_axioms,
    split_header,
    statement_head,
)
from prover.lean.types import CommandResult, LeanInputError, Message, Pos, Theorem, parse_command_response

REPO = Path(__file__).resolve().parents[1]
DOUBLE = REPO / "tests" / "double" / "repl_double.py"

# ---------------------------------------------------------------------------------------------------
# Reading Lean source


def test_mask_keeps_offsets_and_lines() -> None:
    text = 'theorem a : True := by -- sorry here\n  /- axiom x /- nested -/ -/ trivial\n  #eval "axiom"\n'
    m = mask_comments_and_strings(text)
    assert len(m) == len(text) and m.count("\n") == text.count("\n")
    assert "sorry" not in m and "axiom" not in m and "nested" not in m
    assert "trivial" in m and m.index("trivial") == text.index("trivial")
    # primes of identifiers are not char literals
    assert "h'" in mask_comments_and_strings("exact h' (f x')")
    assert mask_comments_and_strings("'a' = 'b'") == "' ' = ' '"


def test_find_declarations_with_namespaces() -> None:
    text = """import Mathlib
/-- doc -/
@[simp] lemma aux (n : ℕ) : n + 0 = n := by simp

namespace Foo
private theorem bar : True := trivial
theorem _root_.baz : True := trivial
section
example : True := trivial
end
end Foo
noncomputable def f : ℕ := 0
theorem Nat.qux' : 1 = 1 := rfl
-- theorem commented : False := sorry
"""
    decls = find_declarations(text)
    assert [(d.kind, d.name, d.full_name) for d in decls] == [
        ("lemma", "aux", "aux"),
        ("theorem", "bar", "Foo.bar"),
        ("theorem", "_root_.baz", "baz"),
        ("example", None, None),
        ("def", "f", "f"),
        ("theorem", "Nat.qux'", "Nat.qux'"),
    ]
    assert text[decls[0].start :].startswith("lemma aux")


def test_bare_end_of_noncomputable_section_or_mutual_keeps_the_namespace() -> None:
    for opener in ("noncomputable section", "mutual"):
        text = f"namespace Foo\n{opener}\ntheorem a : True := trivial\nend\ntheorem b : True := trivial\nend Foo\n"
        assert [d.full_name for d in find_declarations(text)] == ["Foo.a", "Foo.b"], opener


def test_split_header() -> None:
    text = "-- a file\nimport Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\ntheorem x : True := trivial\n"
    header, body, n = split_header(text)
    assert header == "-- a file\nimport Mathlib\nimport Aesop\n" and n == 3
    assert body.startswith("\nset_option") and header + body == text
    assert split_header("theorem x : True := trivial") == ("", "theorem x : True := trivial", 0)


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


def test_statement_helpers() -> None:
    assert statement_head("/-- d -/\ntheorem t (x : ℕ) :\n  x = x := by") == "theorem t (x : ℕ) :\n  x = x"
    assert statement_head("theorem t : True :=") == "theorem t : True"
    assert normalize("theorem t (x : ℕ) :\n  x = x -- c") == "theoremt(x:ℕ):x=x"
    assert lean_name("foo.bar'") == "foo.bar'"
    assert lean_name("mathd_algebra_478") == "mathd_algebra_478"
    assert lean_name("1st.b") == "«1st».b"


# ---------------------------------------------------------------------------------------------------
# The gate's decisions, on a scripted command runner


class FakeRunner:
    """Answers commands from a list of (predicate, answer) rules; records what it was sent."""

    lean_version = "4.24.0-fake"

    def __init__(self, rules: list[tuple[str, dict[str, Any]]], header_error: str | None = None):
        self.rules = rules
        self.sent: list[tuple[str, int | None]] = []
        self.header_error = header_error
        self.n_env = 1

    def header_env(self, header: str) -> int:
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


def axioms(name: str, *ax: str) -> dict[str, Any]:
    data = f"'{name}' depends on axioms: [{', '.join(ax)}]" if ax else f"'{name}' does not depend on any axioms"
    return {"messages": [{"severity": "info", "pos": {"line": 1, "column": 0}, "data": data}]}


TH = Theorem("t1", "theorem t1 (x : ℕ) : x + 0 = x := by", header="import Mathlib")


def test_sound_proof_and_requests_sent() -> None:
    r = FakeRunner([("#print axioms t1", axioms("t1", "propext"))])
    res = SoundnessGate().check(r, TH, TH.with_proof("simp"))
    assert res.sound and res.reasons == () and res.axioms == ("propext",)
    assert res.lean_version == "4.24.0-fake"
    (ref, ref_env), (body, body_env), (audit, _), (same, _) = r.sent
    assert ref.startswith(f"namespace {REF_NAMESPACE}\ntheorem t1 (x : ℕ) : x + 0 = x := by sorry") and ref_env == 0
    assert body == TH.with_proof("simp") and body_env == 1  # the text runs after the reference
    assert audit == "#print axioms t1"
    assert same == f"example : type_of% @{REF_NAMESPACE}.t1 := @t1"


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
    assert not any(c.startswith("#print") for c, _ in r.sent)  # no audit of a failed text


def test_rejects_changed_statement_and_missing_theorem() -> None:
    r = FakeRunner([("#print axioms", axioms("t1"))])
    res = SoundnessGate().check(r, TH, "theorem t1 (x : ℕ) : x + 0 = x + 0 := by\n  simp")
    assert not res.sound and "the statement of t1 was changed" in res.reasons
    res = SoundnessGate().check(r, TH, "theorem t2 (x : ℕ) : x + 0 = x := by\n  simp")
    assert not res.sound and "does not contain the statement of t1" in res.reasons[0]
    # the statement in a comment does not count
    res = SoundnessGate().check(r, TH, "-- theorem t1 (x : ℕ) : x + 0 = x := by\ntheorem t1 : True := trivial")
    assert not res.sound
    # whitespace and comments inside the statement do not matter
    ok = "theorem t1 (x : ℕ) :\n    x + 0 = x -- same\n  := by\n  simp"
    assert SoundnessGate().check(r, TH, ok).sound


def test_reference_mismatch_is_rejected() -> None:
    """Notation redefined before the theorem: the text matches, but Lean says the types differ."""
    mismatch = {"messages": [{"severity": "error", "pos": {"line": 1, "column": 0}, "data": "type mismatch"}]}
    r = FakeRunner([("#print axioms", axioms("t1", "propext")), ("type_of%", mismatch)])
    text = 'local notation "ℕ" => Bool\n' + TH.with_proof("simp")
    res = SoundnessGate().check(r, TH, text)
    assert not res.sound and res.reasons == ("t1 does not prove the original statement",)


def test_rejects_axiom_declarations_and_kernel_tricks() -> None:
    r = FakeRunner([("#print axioms", axioms("t1", "propext"))])
    res = SoundnessGate().check(r, TH, "axiom cheat : False\n" + TH.with_proof("exact cheat.elim"))
    assert not res.sound and res.reasons[0] == "declares an axiom cheat"
    res = SoundnessGate().check(r, TH, "set_option debug.skipKernelTC true\n" + TH.with_proof("simp"))
    assert not res.sound and "skipKernelTC" in res.reasons[0]
    res = SoundnessGate().check(r, TH, "run_meta modifyEnv id\n" + TH.with_proof("simp"))
    assert not res.sound and "environment" in res.reasons[0]
    # the word in a comment or string is fine, and `#print axioms` is not an axiom
    text = "-- axiom\n" + TH.with_proof('simp -- not an axiom\n#print axioms t1\n#eval "axiom"')
    assert SoundnessGate().check(r, TH, text).sound


def test_several_lemmas_audit_the_target() -> None:
    r = FakeRunner([("#print axioms t1", axioms("t1", "propext", "Classical.choice"))])
    text = "lemma helper (x : ℕ) : x = x := rfl\n\n" + TH.with_proof("simp [helper]")
    res = SoundnessGate().check(r, TH, text)
    assert res.sound and [c for c, _ in r.sent if c.startswith("#print")] == ["#print axioms t1"]


def test_namespaced_target() -> None:
    r = FakeRunner([("#print axioms Foo.t1", axioms("Foo.t1", "propext"))])
    text = "namespace Foo\n" + TH.with_proof("simp") + "\nend Foo"
    res = SoundnessGate().check(r, TH, text)
    assert res.sound
    assert f"example : type_of% @{REF_NAMESPACE}.t1 := @Foo.t1" in [c for c, _ in r.sent]


def test_example_is_renamed_and_columns_mapped_back() -> None:
    ex = Theorem("ex", "example (x : ℕ) : x + 0 = x := by")
    err = {"severity": "error", "pos": {"line": 1, "column": 40}, "data": "late error"}
    r = FakeRunner(
        [("#print axioms prover_gate_example_0", axioms("prover_gate_example_0")), ("omega", {"messages": [err]})]
    )
    res = SoundnessGate().check(r, ex, ex.with_proof("simp"))
    assert res.sound, res.reasons
    body = r.sent[1][0]
    assert body.startswith("theorem prover_gate_example_0 (x : ℕ)")
    assert r.sent[0][0].startswith(f"namespace {REF_NAMESPACE}\ntheorem prover_gate_example (x : ℕ)")
    res = SoundnessGate().check(r, ex, "example (x : ℕ) : x + 0 = x := by omega")
    shift = len("theorem prover_gate_example_0") - len("example")
    assert res.messages[0].pos == Pos(1, 40 - shift)


def test_check_file_audits_every_theorem_or_the_named_one() -> None:
    text = "import Mathlib\n\ntheorem a : True := trivial\nlemma b : True := trivial\nexample : True := trivial\n"
    r = FakeRunner(
        [
            ("#print axioms a", axioms("a")),
            ("#print axioms b", axioms("b", "sorryAx")),
            ("#print axioms prover_gate_example_0", axioms("prover_gate_example_0")),
        ]
    )
    res = SoundnessGate().check_file(r, text)
    audits = [c for c, _ in r.sent if c.startswith("#print")]
    assert audits == ["#print axioms a", "#print axioms b", "#print axioms prover_gate_example_0"]
    assert not res.sound and res.reasons == ("b uses disallowed axiom(s) sorryAx (sorry)",)
    assert SoundnessGate().check_file(FakeRunner(r.rules), text, ["a"]).sound
    res = SoundnessGate().check_file(FakeRunner(r.rules), text, ["nope"])
    assert not res.sound and "no declaration named nope" in res.reasons[0]
    assert not any("namespace" in c for c, _ in r.sent)  # no reference statement without a Theorem


def test_header_error_and_protocol_error() -> None:
    res = SoundnessGate().check(FakeRunner([], header_error="unknown module prefix 'Foo'"), TH, TH.with_proof("simp"))
    assert not res.sound and res.reasons[-1].startswith("header: unknown module prefix")
    r = FakeRunner([("simp", {"message": "Unknown environment."})])
    res = SoundnessGate().check(r, TH, TH.with_proof("simp"))
    assert not res.sound and "Lean: Unknown environment." in res.reasons


def test_failed_audit_is_not_sound() -> None:
    unknown = {"messages": [{"severity": "error", "pos": {"line": 1, "column": 14}, "data": "Unknown constant `t1`"}]}
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
    assert not any(c.startswith("#print") for c, _ in r.sent)


def test_message_format_for_check_result() -> None:
    m = Message("error", "unsolved goals", Pos(3, 4))
    assert m.format("x.lean") == "x.lean:3:4: error: unsolved goals"


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
    assert not res.sound and "declares an axiom cheat" in res.reasons
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

SHARED = Path(os.environ.get("PROVER_SHARED_DIR", REPO.parent / "shared"))
BENCH = SHARED / "benchmarks"


@pytest.mark.skipif(not (BENCH / "minif2f_known_proofs.jsonl").is_file(), reason="shared benchmarks not found")
def test_statement_screening_on_known_proofs() -> None:
    """Every published proof whose statement equals the benchmark's passes the static screening (no false
    rejection); proofs of a different statement version are caught unless only spacing/comments differ."""
    primary = {}
    for split in ("valid", "test"):
        for line in (BENCH / f"minif2f_{split}.jsonl").read_text().splitlines():
            row = json.loads(line)
            primary[row["name"]] = row
    gate = SoundnessGate()
    same = caught = 0
    for line in (BENCH / "minif2f_known_proofs.jsonl").read_text().splitlines():
        row = json.loads(line)
        p = primary.get(row["name"])
        if p is None:
            continue
        th = Theorem(row["name"], p["formal_statement"], header=p["header"])
        _, body, _ = split_header(row["proof"])
        reasons = gate._prepare(body, theorem=th).reasons
        if row["stmt_matches_primary_text"]:
            assert reasons == [], (row["name"], reasons)
            same += 1
        elif reasons:
            assert any("statement" in r for r in reasons), reasons
            caught += 1
    assert same >= 300 and caught >= 200
