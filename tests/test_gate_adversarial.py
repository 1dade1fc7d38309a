"""A labelled adversarial suite for the soundness gate: proof texts (and whole files) written as an attacker
would, each with the verdict it must get and the mechanism that must decide it.

Mechanisms: ``screen`` (the static screen refuses the text; Lean never sees it), ``statement`` (the target is
missing, renamed, re-declared or its statement changed; static), ``error`` (Lean reports an error), ``sorry``
(Lean reports a sorry), ``axioms`` (the axiom audit lists a disallowed axiom), ``identity`` (Lean rejects
`example : type_of% @REF := @TARGET`), ``accept`` (a sound proof: the valid controls).

Here (no Lean) each case runs through the gate with a scripted command runner. Where the decision is Lean's,
the case scripts the answer real Lean gives and says how we know it (``why``); where the screen or the
statement check decides, the test also asserts that nothing was sent to Lean, so Lean's answer cannot matter.
Under the ``lean`` marker the same cases run on real Lean, through `ReplEnv`, in both modes (``repl`` and,
when comparator is built, ``strict``); there only the verdict is asserted, since real Lean may decide a
rejected case by a second mechanism as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from prover.lean.gate import REF_SUFFIX, SoundnessGate
from prover.lean.types import CommandResult, LeanInputError, Theorem, parse_command_response

HEADER = "import Mathlib\nimport Aesop\nset_option maxHeartbeats 400000\nopen BigOperators Real Nat Topology Rat"
T = Theorem("adv_t", "theorem adv_t (a b : ℕ) : a + b = b + a := by", header=HEADER)  # true
F = Theorem("adv_f", "theorem adv_f : (2 : ℕ) + 2 = 5 := by", header=HEADER)  # false: only a cheat proves it
D = Theorem("adv_d", "theorem adv_d : 2 ^ 10 = 1024 := by", header=HEADER)  # decidable
E = Theorem("adv_e", "example (n : ℕ) : n + 0 = n := by", header=HEADER)

SORRY_WARNING = "declaration uses 'sorry'"
# How Lean answers, used by several cases:
# - REPL transcripts (fixtures/repl/test/assumption_proof.expected.out): a `sorry` gives the warning
#   "declaration uses `sorry`" at the declaration's name, a `sorries` entry, and `#print axioms` lists sorryAx;
# - Lean's `#print axioms` (Lean.Elab.Print, Lean.Util.CollectAxioms) lists every axiom reachable from the
#   constant, through helper lemmas at any depth; `native_decide` / `decide +native` go through the axiom
#   `Lean.ofReduceBool` (Lean's docs for native_decide);
# - an error is an "error" message with a position; the answer still has an env (REPL transcripts).


def text(th: Theorem, proof: str, before: str = "", after: str = "") -> str:
    return before + th.with_proof(proof) + after


@dataclass(frozen=True)
class Case:
    id: str
    theorem: Theorem
    text: str
    verdict: str  # "accept" | "reject"
    mechanism: str  # screen | statement | error | sorry | axioms | identity | accept
    answers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # scripted Lean answers
    axioms: tuple[str, ...] = ("propext",)  # what `#print axioms` of the target lists
    why: str = ""  # how we know Lean answers that
    file: bool = False  # a user's file (`check_file`) instead of model text


def err(data: str, line: int = 2, col: int = 2) -> dict[str, Any]:
    return {"messages": [{"severity": "error", "pos": {"line": line, "column": col}, "data": data}]}


def warn_sorry(line: int = 1) -> dict[str, Any]:
    return {
        "messages": [{"severity": "warning", "pos": {"line": line, "column": 8}, "data": SORRY_WARNING}],
        "sorries": [{"proofState": 0, "goal": "⊢ 2 + 2 = 5", "pos": {"line": 2, "column": 2}}],
    }


CASES: list[Case] = [
    # --- sorry / admit ------------------------------------------------------------------------------
    Case("sorry", F, text(F, "sorry"), "reject", "sorry", [("sorry", warn_sorry())], ("sorryAx",), "REPL transcripts"),
    Case(
        "admit",
        F,
        text(F, "admit"),
        "reject",
        "sorry",
        [("admit", warn_sorry())],
        ("sorryAx",),
        "`admit` is Lean's synonym macro for `sorry` (Lean.Parser.Tactic.tacticAdmit)",
    ),
    Case(
        "all_goals_sorry_in_focus",
        F,
        text(F, "· all_goals sorry"),
        "reject",
        "sorry",
        [("all_goals sorry", warn_sorry())],
        ("sorryAx",),
        "a sorry anywhere: the same warning (REPL transcripts)",
    ),
    Case(
        "lookalike_sorry",
        F,
        text(F, "ѕorry"),
        "reject",
        "error",
        [("ѕorry", err("unexpected token; expected '{' or tactic"))],
        ("propext",),
        "Cyrillic ѕ (U+0455) is not an identifier character (Lean's isLetterLike/isIdFirst): a parse error",
    ),
    Case(
        "sorryAx_term",
        F,
        text(F, "exact sorryAx _ false"),
        "reject",
        "axioms",
        [],
        ("sorryAx",),
        "`#print axioms` lists sorryAx for any use of it (CollectAxioms)",
    ),
    # --- native code --------------------------------------------------------------------------------
    Case(
        "native_decide",
        D,
        text(D, "native_decide"),
        "reject",
        "axioms",
        [],
        ("propext", "Lean.ofReduceBool"),
        "Lean docs",
    ),
    Case(
        "decide_native",
        D,
        text(D, "decide +native"),
        "reject",
        "axioms",
        [],
        ("Lean.ofReduceBool",),
        "`decide +native` is native_decide (Lean ≥ 4.12 docs): the same axiom",
    ),
    Case(
        "ofReduceBool_direct",
        D,
        text(D, "exact of_decide_eq_true (Lean.ofReduceBool _ _ rfl)"),
        "reject",
        "axioms",
        [],
        ("Lean.ofReduceBool",),
        "CollectAxioms: a direct use of the axiom",
    ),
    # --- custom axioms --------------------------------------------------------------------------------
    Case("axiom_direct", F, text(F, "exact cheat", "axiom cheat : (2 : ℕ) + 2 = 5\n\n"), "reject", "screen"),
    Case(
        "axiom_in_instance",
        F,
        text(
            F,
            "exact (inferInstance : Fact ((2 : ℕ) + 2 = 5)).out",
            "axiom cheat : (2 : ℕ) + 2 = 5\ninstance : Fact ((2 : ℕ) + 2 = 5) := ⟨cheat⟩\n\n",
        ),
        "reject",
        "screen",
    ),
    Case(
        "axiom_by_macro",
        F,
        text(F, "cheat", 'macro "cheat" : tactic => `(tactic| exact sorryAx _ false)\n\n'),
        "reject",
        "screen",
    ),
    Case(
        "axiom_by_run_cmd",
        F,
        text(
            F,
            "exact forged",
            "run_cmd Lean.Elab.Command.liftCoreM <| Lean.addDecl <| .axiomDecl "
            "{ name := `forged, levelParams := [], type := Lean.mkConst ``False, isUnsafe := false }\n\n",
        ),
        "reject",
        "screen",
    ),
    Case(
        "axiom_by_run_tac", F, text(F, "run_tac Lean.Elab.Tactic.evalTactic (← `(tactic| decide))"), "reject", "screen"
    ),
    Case(
        "addDecl_by_elab",
        F,
        text(F, "exact by_elab Lean.addDecl default *> pure (Lean.mkConst ``True.intro)"),
        "reject",
        "screen",
    ),
    # --- debug options --------------------------------------------------------------------------------
    Case("skipKernelTC", F, text(F, "decide", "set_option debug.skipKernelTC true in\n"), "reject", "screen"),
    Case(
        "skipKernelTC_escaped_in_tactic",
        F,
        text(F, "set_option debug.«skipKernelTC» true in decide +kernel"),
        "reject",
        "screen",
    ),
    Case(
        "skipKernelTC_one_component", F, text(F, "decide", "set_option «debug.skipKernelTC» true\n"), "reject", "screen"
    ),
    Case("byAsSorry_option", F, text(F, "decide", "set_option debug.byAsSorry true in\n"), "reject", "screen"),
    # --- compiler attributes, unsafe, partial, opaque ------------------------------------------------
    Case(
        "implemented_by",
        F,
        text(F, "decide", "def impl : Bool := true\n@[implemented_by impl] def spec : Bool := false\n\n"),
        "reject",
        "screen",
    ),
    Case(
        "extern",
        F,
        text(F, "decide", '@[extern "lean_nat_add"] def myAdd (a b : ℕ) : ℕ := a + b\n\n'),
        "reject",
        "screen",
    ),
    Case("csimp", F, text(F, "decide", "@[csimp] theorem bad_csimp : @id = @id := rfl\n\n"), "reject", "screen"),
    Case("unsafe_def", F, text(F, "decide", "unsafe def u : ℕ := 0\n\n"), "reject", "screen"),
    Case("partial_def", F, text(F, "decide", "partial def loop (n : ℕ) : ℕ := loop n\n\n"), "reject", "screen"),
    Case(
        "opaque_with_body", F, text(F, "exact cheat", "opaque cheat : (2 : ℕ) + 2 = 5 := sorry\n\n"), "reject", "screen"
    ),
    # --- notation and macros ----------------------------------------------------------------------------
    Case("local_notation", T, text(T, "decide", 'local notation "ℕ" => Bool\n\n'), "reject", "screen"),
    Case(
        "scoped_notation",
        T,
        text(T, "omega", 'namespace X\nscoped infix:65 " + " => HMul.hMul\nend X\nopen X\n\n'),
        "reject",
        "screen",
    ),
    Case(
        "macro_rules_print_axioms",
        F,
        text(
            F,
            "native_decide",
            "macro_rules | `(#print axioms $_) => `(#print \"'adv_f' does not depend on any axioms\")\n\n",
        ),
        "reject",
        "screen",
    ),
    Case(
        "macro_rules_type_of",
        F,
        text(F, "native_decide", "macro_rules | `(type_of% $_) => `(True)\n\n"),
        "reject",
        "screen",
    ),
    Case(
        "open_changes_meaning",
        T,
        text(T, "omega", "open Foo\n\n"),
        "reject",
        "identity",
        [("type_of%", err("type mismatch", 1, 0))],
        ("propext",),
        "scripted: were `open Foo` to make the same tokens mean another proposition, `example : T := @c` with c "
        "of another type is Lean's ordinary 'type mismatch' error; on real Lean `Foo` does not exist and the "
        "`open` is an error (same verdict)",
    ),
    # --- shadowing ---------------------------------------------------------------------------------------
    Case(
        "declares_the_reference_name",
        T,
        text(T, "omega", f"theorem adv_t{REF_SUFFIX} : False := sorry\n\n"),
        "reject",
        "error",
        [(f"theorem adv_t{REF_SUFFIX} : False", err(f"'adv_t{REF_SUFFIX}' has already been declared", 1, 8))],
        ("propext",),
        "Lean refuses a second declaration of a name: \"'x' has already been declared\"",
    ),
    Case("private_target", T, "private " + T.with_proof("omega"), "reject", "statement"),
    Case(
        "target_in_another_namespace",
        T,
        "namespace Foo\n" + T.with_proof("omega") + "\nend Foo\n",
        "reject",
        "statement",
    ),
    Case("target_declared_twice", T, T.with_proof("omega") + "\n\n" + T.with_proof("omega"), "reject", "statement"),
    Case(
        "target_with_other_statement", T, "theorem adv_t (a b : ℕ) : a + b = a + b := by\n  rfl", "reject", "statement"
    ),
    Case(
        "statement_spacing_changes_tokens",
        T,
        "theorem adv_t (ab : ℕ) : a + b = b + a := by\n  omega",
        "reject",
        "statement",
    ),
    # --- transitive dependencies ---------------------------------------------------------------------------
    Case(
        "helper_two_levels_sorry",
        F,
        "lemma h2 : (2 : ℕ) + 2 = 5 := sorry\nlemma h1 : (2 : ℕ) + 2 = 5 := h2\n\n" + F.with_proof("exact h1"),
        "reject",
        "sorry",
        [("lemma h2", warn_sorry())],
        ("sorryAx",),
        "REPL transcripts; CollectAxioms is transitive",
    ),
    Case(
        "helper_two_levels_native",
        D,
        "lemma h2 : 2 ^ 10 = 1024 := by native_decide\nlemma h1 : 2 ^ 10 = 1024 := h2\n\n" + D.with_proof("exact h1"),
        "reject",
        "axioms",
        [],
        ("propext", "Lean.ofReduceBool"),
        "CollectAxioms is transitive (Lean.Util.CollectAxioms)",
    ),
    # --- metavariables, kernel, lexical tricks, #exit, scopes ------------------------------------------
    Case(
        "metavariable_left",
        F,
        text(F, "exact _"),
        "reject",
        "error",
        [("exact _", err("don't know how to synthesize placeholder\ncontext:\n⊢ 2 + 2 = 5"))],
        ("propext",),
        "`exact` refuses a term with an unassigned placeholder: Lean's elaborator error (Lean.Elab.Term)",
    ),
    Case(
        "kernel_decides_false",
        F,
        text(F, "decide +kernel"),
        "reject",
        "error",
        [("decide +kernel", err("tactic 'decide' proved that the proposition\n  2 + 2 = 5\nis false"))],
        ("propext",),
        "with +kernel the kernel evaluates the Decidable instance; on a false proposition the tactic fails with "
        "this error (Lean.Elab.Tactic.Decide's wording)",
    ),
    Case(
        "unterminated_comment",
        F,
        text(F, "decide", "", "\n/- never closed\ntheorem adv_f : False := sorry"),
        "reject",
        "screen",
    ),
    Case("unterminated_string", F, text(F, "decide", "", '\n#check "abc'), "reject", "screen"),
    Case("exit_before_theorem", F, "#exit\n" + F.with_proof("decide"), "reject", "screen"),
    Case(
        "end_without_scope",
        T,
        "end\n" + T.with_proof("omega"),
        "reject",
        "error",
        [("end\n", err("invalid 'end', insufficient scopes", 1, 0))],
        ("propext",),
        "Lean's error for an unmatched `end`",
    ),
    Case(
        "self_reference",
        F,
        text(F, "exact adv_f"),
        "reject",
        "error",
        [("exact adv_f", err("fail to show termination for\n  adv_f"))],
        ("propext",),
        "a non-decreasing self-call goes through Lean's termination checker, which fails (repl issue #44 case)",
    ),
    Case(
        "second_declaration_with_sorry",
        T,
        T.with_proof("omega") + "\n\ntheorem extra : False := sorry",
        "reject",
        "sorry",
        [("theorem extra", warn_sorry(4))],
        ("propext",),
        "REPL transcripts: the warning is in the text's answer",
    ),
    Case(
        "second_command_attribute", T, T.with_proof("omega") + "\n\nattribute [simp] Nat.add_comm", "reject", "screen"
    ),
    # --- valid controls -----------------------------------------------------------------------------------
    Case("control_decide", D, text(D, "decide"), "accept", "accept", [], ()),
    Case("control_omega", T, text(T, "omega"), "accept", "accept", [], ()),
    Case(
        "control_exact_query",
        T,
        text(T, "exact?"),
        "accept",
        "accept",
        [
            (
                "exact?",
                {
                    "messages": [
                        {
                            "severity": "info",
                            "pos": {"line": 2, "column": 2},
                            "data": "Try this: exact Nat.add_comm a b",
                        }
                    ]
                },
            )
        ],
        ("propext",),
        "exact? that succeeds closes the goal and logs 'Try this' as info (Mathlib's LibrarySearch)",
    ),
    Case(
        "control_helpers",
        T,
        "import Mathlib\n\nlemma adv_helper (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n\n"
        + T.with_proof("exact adv_helper a b"),
        "accept",
        "accept",
        [],
        ("propext",),
    ),
    Case(
        "control_options_and_root",
        T,
        "namespace Foo\ntheorem _root_.adv_t (a b : ℕ) : a + b = b + a := by\n"
        "  set_option maxRecDepth 2000 in\n  omega\nend Foo",
        "accept",
        "accept",
        [],
        ("propext",),
    ),
    Case("control_example", E, text(E, "simp"), "accept", "accept", [], ("propext",)),
    # --- whole files (prover check) -------------------------------------------------------------------------
    Case(
        "file_escaped_names_hide_nothing",
        F,
        HEADER + "\n\ndef «x/-» := 0\ntheorem bad : (2 : ℕ) + 2 = 5 := by native_decide\ndef «-/» := 0\n",
        "reject",
        "axioms",
        [],
        ("Lean.ofReduceBool",),
        "CollectAxioms",
        file=True,
    ),
    Case("file_non_prop_example", F, HEADER + "\n\nexample : ℕ := 3\n", "accept", "accept", [], (), file=True),
    Case(
        "file_macro",
        F,
        HEADER + '\n\nmacro "cheat" : term => `(sorry)\ntheorem x : True := trivial\n',
        "reject",
        "screen",
        file=True,
    ),
]


class ScriptedLean:
    """Answers like Lean would for the case: its scripted answers first; `#print axioms _root_.NAME` with the case's
    axioms under NAME; anything else: no messages (what Lean answers to a command that elaborates)."""

    lean_version = "4.24.0-scripted"

    def __init__(self, case: Case):
        self.case = case
        self.sent: list[str] = []

    def header_env(self, header: str) -> int:
        if not header.startswith("import"):
            raise LeanInputError("header without imports")
        return 0

    def command(self, cmd: str, env: int | None = None, **kw: Any) -> CommandResult:
        self.sent.append(cmd)
        if cmd.startswith("#print axioms _root_."):
            name = cmd[len("#print axioms _root_.") :]
            ax = self.case.axioms
            data = f"'{name}' depends on axioms: [{', '.join(ax)}]" if ax else f"'{name}' does not depend on any axioms"
            return parse_command_response({"messages": [{"severity": "info", "data": data}], "env": len(self.sent)})
        if not self.case.file and len(self.sent) == 1:
            return parse_command_response({"env": 1})  # the reference: the original statement by sorry
        identity = cmd.startswith("example : type_of%")
        for needle, answer in self.case.answers:
            if (needle == "type_of%") == identity and needle in cmd:
                return parse_command_response({**answer, "env": len(self.sent)})
        return parse_command_response({"env": len(self.sent)})


DECIDES = {
    "screen": lambda r: r.startswith("line "),
    "statement": lambda r: "statement of" in r or "declares" in r,
    "error": lambda r: "error(s)" in r,
    "sorry": lambda r: r == "contains sorry",
    "axioms": lambda r: "uses disallowed axiom(s)" in r,
    "identity": lambda r: "does not prove the original statement" in r,
}


def test_the_suite_is_large_and_labelled() -> None:
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)
    assert {c.mechanism for c in CASES} == set(DECIDES) | {"accept"}
    for c in CASES:
        assert (c.verdict == "accept") == (c.mechanism == "accept"), c.id
        assert not c.answers or c.why or c.mechanism == "accept", f"{c.id}: say how we know Lean answers that"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_adversarial_case(case: Case) -> None:
    runner = ScriptedLean(case)
    gate = SoundnessGate()
    res = gate.check_file(runner, case.text) if case.file else gate.check(runner, case.theorem, case.text)
    assert res.sound is (case.verdict == "accept"), (case.id, res.reasons)
    if case.verdict == "reject":
        assert any(DECIDES[case.mechanism](r) for r in res.reasons), (case.id, case.mechanism, res.reasons)
    if case.mechanism in ("screen", "statement"):
        assert runner.sent == [], (case.id, runner.sent)  # decided before Lean: its answer cannot matter


# ---------------------------------------------------------------------------------------------------
# The same suite on real Lean, in both modes


@pytest.fixture(scope="module", params=["repl", "strict"])
def real_env(request):
    from prover.lean.config import LeanConfig
    from prover.lean.repl_env import ReplEnv
    from prover.lean.strict import strict_checks

    config = LeanConfig(timeout=300, header_timeout=900, verify=request.param)
    if request.param == "strict":
        missing = [c for c in strict_checks(config) if not c.ok]
        if missing:
            pytest.skip(f"strict mode not set up: {missing[0].problem}")
    with ReplEnv(config) as env:
        yield env


@pytest.mark.lean
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_adversarial_case_on_real_lean(real_env, case: Case) -> None:
    res = real_env.check_file(case.text) if case.file else real_env.check(case.theorem, case.text)
    assert res.sound is (case.verdict == "accept"), (case.id, res.reasons, [m.data for m in res.messages])
    if res.sound:
        assert res.verified_by == real_env.config.verify
