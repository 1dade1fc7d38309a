"""Contract tests: the parsers of prover/lean/types.py against the Lean REPL's real answers.

Every transcript of ``shared/fixtures/repl`` (``test/`` and ``test/Mathlib/test/``) that has an
``.expected.out`` is split into requests and answers; each answer is parsed with the parser for the kind
of its request and checked for shape and id consistency. A table below states the expected result of
the interesting steps (failing tactics, kernel failures, sorries, unknown ids, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED

from prover.lean.record import iter_transcripts, read_transcript
from prover.lean.types import (
    CommandResult,
    LeanError,
    Message,
    Pos,
    ProofFinished,
    TacticState,
    parse_command_response,
    parse_tactic_response,
)

FIXTURES = SHARED / "fixtures" / "repl"
TEST_DIR = FIXTURES / "test"

# ---------------------------------------------------------------------------------------------------
# Reading transcripts the way the REPL reads its input


def read_requests(path: Path) -> list[dict[str, Any]]:
    """Requests as the REPL reads them (``getLines``: lines right-trimmed and joined *without* newlines, so a
    raw line break inside a JSON string disappears: ``"by<newline>sorry"`` is ``bysorry``)."""
    return [q for q, _ in read_transcript(path)]


def request_kind(req: dict[str, Any]) -> str:
    """The REPL tries the request shapes in this order (REPL/Main.lean, ``parse``)."""
    if "tactic" in req and "proofState" in req:
        return "tactic"
    if "pickleTo" in req and "env" in req:
        return "pickle_env"
    if "unpickleEnvFrom" in req:
        return "unpickle_env"
    if "pickleTo" in req and "proofState" in req:
        return "pickle_proof_state"
    if "unpickleProofStateFrom" in req:
        return "unpickle_proof_state"
    if "cmd" in req:
        return "cmd"
    if "path" in req:
        return "path"
    raise AssertionError(f"unknown request shape {sorted(req)}")


COMMAND_KINDS = {"cmd", "path", "pickle_env", "unpickle_env"}
TACTIC_KINDS = {"tactic", "pickle_proof_state", "unpickle_proof_state"}


def parse_answer(kind: str, obj: dict[str, Any]) -> CommandResult | TacticState | ProofFinished | LeanError:
    return parse_command_response(obj) if kind in COMMAND_KINDS else parse_tactic_response(obj)


def _transcripts() -> list[Path]:
    return list(iter_transcripts(TEST_DIR)) if TEST_DIR.is_dir() else []


def _id(p: Path) -> str:
    return str(p.relative_to(TEST_DIR))[: -len(".in")]


TRANSCRIPTS = _transcripts()
pytestmark = pytest.mark.shared("fixtures", "repl", "test")


@dataclass
class Step:
    kind: str
    request: dict[str, Any]
    answer: dict[str, Any]
    result: Any


def load(name: str) -> list[Step]:
    path = TEST_DIR / f"{name}.in"
    pairs = read_transcript(path)
    assert all(a is not None for _, a in pairs), f"{name}: fewer answers than requests"
    return [Step(request_kind(q), q, a, parse_answer(request_kind(q), a)) for q, a in pairs]


# ---------------------------------------------------------------------------------------------------
# Generic checks over every transcript


def test_fixture_set_is_complete() -> None:
    names = {_id(p) for p in TRANSCRIPTS}
    assert len(names) == 59, len(names)
    assert {"invalid_tactic", "proof_step", "Mathlib/test/exact", "invalid_line_break"} <= names
    # the .in files without answers are known and skipped, as upstream's test.sh does
    without = {_id(p) for p in TEST_DIR.rglob("*.in")} - names
    assert without == {"pickle_scoped_notation", "pickle_scoped_notation_2", "Mathlib/test/H20231214"}


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=_id)
def test_every_answer_parses_with_consistent_ids(path: Path) -> None:
    steps = load(_id(path))
    n_envs = 0  # the REPL numbers environments and proof states in order of creation
    n_states = 0
    for i, s in enumerate(steps):
        where = f"{_id(path)} #{i} ({s.kind})"
        is_error = set(s.answer) == {"message"}
        ref_env = s.request.get("env")
        ref_ps = s.request.get("proofState")
        if s.kind in COMMAND_KINDS:
            r = s.result
            assert isinstance(r, CommandResult), where
            if is_error:
                assert r.error == s.answer["message"] and r.env is None and not r.ok, where
                continue
            assert r.error is None and r.env is not None, where
            if s.kind == "pickle_env":
                assert r.env == ref_env, where  # pickling answers the env it pickled
            else:
                assert r.env == n_envs, where
                n_envs += 1
            for srr in r.sorries:  # sorries get ids first, then allTactics
                if srr.proof_state is not None:
                    assert srr.proof_state == n_states, where
                    n_states += 1
            for t in r.tactics:
                assert t.proof_state == n_states, where
                n_states += 1
                assert t.goals and t.tactic, where
            for m in r.messages:
                assert m.severity in ("error", "warning", "info", "information"), where
                assert m.pos is not None and m.pos.line >= 1 and m.pos.column >= 0, where
            if ref_env is not None and s.kind != "pickle_env":
                assert ref_env < n_envs, where
        else:
            r = s.result
            assert isinstance(r, TacticState | ProofFinished | LeanError), where
            if is_error:
                assert isinstance(r, LeanError) and r.error == s.answer["message"], where
                continue
            assert "proofState" in s.answer and "proofStatus" in s.answer, where
            for srr in s.answer.get("sorries", []):
                assert srr["proofState"] == n_states, where
                n_states += 1
            assert s.answer["proofState"] == n_states, where
            n_states += 1
            if isinstance(r, TacticState):
                assert r.goals == tuple(s.answer["goals"]) and r.id == s.answer["proofState"], where
                assert r.pp == "\n\n".join(s.answer["goals"]), where
                assert s.answer["proofStatus"] == "Incomplete: open goals remain", where
            elif isinstance(r, ProofFinished):
                assert s.answer["proofStatus"] == "Completed" and s.answer["goals"] == [], where
                assert not any(m.is_error for m in r.messages), where
            else:
                assert s.answer["proofStatus"] != "Completed" or any(m.is_error for m in r.messages), where
            if ref_ps is not None:
                assert ref_ps < n_states, where


def _text_at(text: str, start: Pos, end: Pos) -> str:
    """Slice ``text`` by Lean positions (1-based lines, columns in Unicode code points)."""
    lines = text.split("\n")
    if start.line == end.line:
        return lines[start.line - 1][start.column : end.column]
    first, last = lines[start.line - 1][start.column :], lines[end.line - 1][: end.column]
    return "\n".join([first, *lines[start.line : end.line - 1], last])


def _source(s: Step, transcript: Path) -> str | None:
    if s.kind == "cmd":
        return s.request["cmd"]
    if s.kind == "path":  # relative to the REPL's cwd: the repo root, or test/Mathlib for Mathlib tests
        f = transcript.parent.parent / s.request["path"]
        return f.read_text() if f.is_file() else None
    return None


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=_id)
def test_positions_are_code_point_columns(path: Path) -> None:
    """Each literal ``sorry`` and each recorded tactic is found at its reported position."""
    for i, s in enumerate(load(_id(path))):
        text = _source(s, path)
        if text is None or not isinstance(s.result, CommandResult):
            continue
        for srr in s.result.sorries:
            if srr.pos is None or srr.pos == srr.end_pos:  # rootGoals report the position of `by`
                continue
            assert _text_at(text, srr.pos, srr.end_pos) == "sorry", f"{_id(path)} #{i}"
        for t in s.result.tactics:
            got = _text_at(text, t.pos, t.end_pos)
            assert got.split()[0] == t.tactic.split()[0], f"{_id(path)} #{i}: {got!r} vs {t.tactic!r}"


def test_non_ascii_columns() -> None:
    (step,) = [s for s in load("proof_branching") if s.kind == "cmd"]
    srr = step.result.sorries[0]
    line = step.request["cmd"].split("\n")[0]
    assert "∧" in line and "→" in line
    assert srr.pos == Pos(1, line.index("sorry")) and srr.end_pos == Pos(1, line.index("sorry") + 5)
    assert len(line.encode()) > len(line)  # UTF-8 byte offsets would differ


# ---------------------------------------------------------------------------------------------------
# Explicit classifications of the interesting steps: (transcript, request index) → expected result.

T, F, E, C = TacticState, ProofFinished, LeanError, CommandResult
EXPECTED: list[tuple[str, int, type, str | None]] = [
    # (transcript, step, type, text that must appear in the error / goals / first message)
    ("invalid_tactic", 1, E, "Unknown identifier `my_fake_premise`"),  # error message + goals []
    ("unknown_tactic", 1, E, "unknown tactic"),  # {"message": "Lean error:\n<input>:1:1: unknown tactic"}
    ("proof_step", 1, T, "⊢ Int"),
    ("proof_step", 2, T, "t : Nat\n⊢ Nat"),
    ("proof_step", 3, F, None),  # proofStatus Completed
    ("readme", 2, F, None),
    ("assumption_proof", 1, F, None),
    ("proof_branching", 1, T, "case left"),
    ("proof_branching", 4, F, None),
    ("proof_transitivity", 1, F, None),
    ("proof_transitivity", 3, F, None),
    ("tactic_mode_sorry", 1, E, "sorry"),  # goals [] but "Incomplete: contains sorry"
    ("by_cases", 1, T, "case neg"),
    ("by_cases", 2, T, "case neg"),
    ("by_cases", 3, E, "sorry"),  # all_goals sorry
    ("unknown_proof_state", 1, E, "Unknown proof state."),
    ("unknown_environment", 0, C, "Unknown environment."),
    ("self_proof_check", 0, C, "`exact?` could not close the goal"),
    ("self_proof_check", 2, E, "Lean error:\n`exact?` could not close the goal"),
    ("self_proof_apply_check", 0, C, "fail to show termination"),
    ("self_proof_apply_check", 2, E, "kernel type check failed"),  # repl issue #44: goals [] but unsound
    ("self_proof_exact_check", 2, E, "kernel type check failed"),
    ("app_type_mismatch", 0, C, "(kernel) declaration has metavariables"),
    ("app_type_mismatch", 2, T, "case zero"),
    ("app_type_mismatch", 4, E, "Incomplete: contains metavariable(s)"),
    ("name_generator", 1, E, None),  # `have h : x > 0 := by sorry`: the step introduces a sorry
    ("name_generator", 2, E, "metavariable"),
    ("name_generator", 7, E, "unsolved goals"),
    ("trace_simp", 5, T, "⊢ f = 37"),
    ("trace_simp", 6, F, None),
    ("root_goals", 1, F, None),
    ("root_goals", 2, F, None),
    ("all_tactics-20250622", 1, F, None),
    ("pickle_proof_state_env", 2, T, "⊢ Nat"),  # pickleTo a proof state answers the state
    ("pickle_proof_state_env", 3, T, "⊢ Nat"),  # unpickle too
    ("pickle_proof_state_env", 7, F, None),
    ("pickle_proof_state_1", 7, F, None),
    ("pickle_environment", 1, C, None),
    ("no_goal_sorry", 0, C, "type expected"),
    ("incomplete", 1, C, "unsolved goals"),
    ("synthesize_placeholder", 0, C, "don't know how to synthesize placeholder"),
    ("invalid_line_break", 0, C, "Unknown identifier `bysorry`"),
    ("line_breaks", 0, C, "unsolved goals"),
    ("Mathlib/test/exact", 2, F, None),  # Completed with an info "Try this" message
    ("Mathlib/test/exact", 4, E, "could not close the goal"),
    ("Mathlib/test/20240209", 1, E, "unsolved goals"),  # goals [] with an error message
    ("Mathlib/test/placeholder_synthesis", 1, C, "don't know how to synthesize placeholder"),
    ("Mathlib/test/placeholder_synthesis", 4, E, "metavariable"),
    ("Mathlib/test/H20231115", 2, T, "case succ"),
    ("Mathlib/test/H20231115_3", 1, C, "unsolved goals"),
    ("Mathlib/test/pickle", 2, T, "x = 3"),
    ("Mathlib/test/pickle_2", 0, T, "x = 3"),
]


def _text_of(r: Any) -> str:
    if isinstance(r, LeanError):
        return r.error + "\n" + "\n".join(m.data for m in r.messages)
    if isinstance(r, TacticState):
        return r.pp
    if isinstance(r, CommandResult):
        return (r.error or "") + "\n" + "\n".join(m.data for m in r.messages)
    return ""


@pytest.mark.parametrize(("name", "index", "kind", "text"), EXPECTED, ids=lambda v: str(v)[:40])
def test_expected_classification(name: str, index: int, kind: type, text: str | None) -> None:
    steps = load(name)
    r = steps[index].result
    assert isinstance(r, kind), f"{name} #{index}: {r!r}"
    if text is not None:
        assert text in _text_of(r), f"{name} #{index}: {_text_of(r)!r}"


def test_command_results_in_detail() -> None:
    # sorry in command mode: goal, proof state, position; the warning is not an error
    (r,) = [s.result for s in load("tactic_sorry")]
    assert r.ok and r.env == 0 and r.errors == ()
    assert r.sorries[0].goal == "⊢ Nat" and r.sorries[0].proof_state == 0
    assert r.sorries[0].pos == Pos(1, 18) and r.sorries[0].end_pos == Pos(1, 23)
    assert r.messages[0].severity == "warning" and "sorry" in r.messages[0].data
    # a term-mode sorry also gets a proof state
    (r,) = [s.result for s in load("term_sorry")]
    assert r.sorries[0].proof_state == 0 and r.sorries[0].goal == "⊢ Nat"
    # errors make the command not ok; the env is still created
    r = load("incomplete")[1].result
    assert not r.ok and r.env == 1 and len(r.errors) == 2
    assert r.errors[1].pos == Pos(1, 26) and r.errors[1].end_pos == Pos(3, 20)
    # rootGoals: one sorry per theorem at the position of `by` (pos == endPos)
    r = load("root_goals")[0].result
    assert [s.goal for s in r.sorries] == ["⊢ 1 = 1", "⊢ 1 + 1 = 2"]
    assert all(s.pos == s.end_pos for s in r.sorries)
    assert r.messages[0].severity == "info" and r.ok
    # allTactics
    r = load("all_tactics")[0].result
    assert [t.tactic for t in r.tactics] == ["have t := 37", "exact t"]
    assert r.tactics[1].goals == "t : Nat\n⊢ Nat"
    assert r.tactics[0].used_constants == ("instOfNatNat", "Nat", "OfNat.ofNat")
    # infotree is passed through
    r = load("infotree")[0].result
    assert isinstance(r.infotree, list) and r.infotree
    # Mathlib header command
    r = load("Mathlib/test/H20231020")[0].result
    assert r.ok and r.env == 0 and not r.messages


def test_tactic_results_in_detail() -> None:
    r = load("invalid_tactic")[1].result
    assert isinstance(r, LeanError) and r.messages[0].pos == Pos(0, 0)  # tactic-mode positions are 0:0
    r = load("by_cases")[1].result
    assert r.num_goals == 2 and r.goals[0].startswith("case pos")
    r = load("Mathlib/test/exact")[2].result
    assert isinstance(r, ProofFinished) and r.id == 1 and r.messages[0].severity == "info"
    r = load("trace_simp")[5].result
    assert isinstance(r, TacticState) and r.id == 1
    # equality of states is on the pretty-printed goals only
    steps = load("pickle_proof_state_env")
    a, b = steps[2].result, steps[3].result
    assert a == b and a.id != b.id and hash(a) == hash(b)


def test_lenient_request_parsing() -> None:
    reqs = read_requests(TEST_DIR / "invalid_line_break.in")
    assert reqs[0]["cmd"] == "theorem foo : 1 = 1 := bysorry"
    reqs = read_requests(TEST_DIR / "Mathlib" / "test" / "line_breaks.in")
    assert "intro h1 h2 p\n" in reqs[1]["cmd"] and reqs[1]["env"] == 0
    assert [request_kind(q) for q in read_requests(TEST_DIR / "pickle_proof_state_env.in")] == [
        "cmd",
        "cmd",
        "pickle_proof_state",
        "unpickle_proof_state",
        "tactic",
        "pickle_proof_state",
        "unpickle_proof_state",
        "tactic",
    ]


def test_messages_format_as_file_line_col() -> None:
    r = load("dup_msg")[2].result
    assert r.errors[0].format("Foo.lean") == "Foo.lean:1:7: error: Unknown identifier `g`"
    assert Message("error", "x").format("F.lean") == "F.lean: error: x"
