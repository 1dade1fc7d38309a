"""The proof-structure tree and the sorrifier: small cases, then every failing attempt in the shared
fixture of real Lean errors on real LLM proofs (positions as Lean recorded them)."""

from __future__ import annotations

import pytest

from data.lean_errors import load_recorded_attempts
from prover.lean.types import Message, Pos
from repair.edits import Edit
from repair.messages import is_parse_error, is_unsolved_goals, parse_diagnostics
from repair.sorrify import SorrifyStep, is_real_declaration, sorrify_step
from repair.tree import Block, Item, innermost, parse


def err(line: int, col: int, data: str, end: tuple[int, int] | None = None) -> Message:
    return Message("error", data, Pos(line, col), Pos(*end) if end else None)


# ---------------------------------------------------------------------------------------------------
# The tree


def test_tree_blocks_items_and_nesting() -> None:
    text = (
        "theorem t (a b : ℕ) (h : a = b) : b = a := by\n"
        "  have h1 : a = b := by\n"
        "    simp [h]\n"
        "  rcases Nat.eq_zero_or_pos a with h2 | h2\n"
        "  · -- zero\n"
        "    simp [h2] at h\n"
        "    omega\n"
        "  · nlinarith [h2,\n"
        "      h]\n"
    )
    pf = parse(text)
    (d,) = pf.decls
    assert d.name == "t" and text[d.assign : d.assign + 2] == ":="
    main = d.main
    assert main is not None and main.column == 2
    assert [i.head for i in main.items] == ["have", "rcases", "·", "·"]
    have = main.items[0]
    assert [b.kind for b in have.blocks] == ["by"] and have.blocks[0].column == 4
    bullet1, bullet2 = main.items[2], main.items[3]
    assert [i.head for i in bullet1.blocks[0].items] == ["simp", "omega"]
    assert bullet2.blocks[0].items[0].head == "nlinarith"  # the continuation line in brackets stays in the item
    assert text[bullet2.blocks[0].items[0].end - 2 : bullet2.blocks[0].items[0].end] == "h]"


def test_tree_unicode_columns_and_comment_masking() -> None:
    # `by` inside a comment and a string is not an opener; columns count code points (𝒰 is one).
    text = 'theorem u (𝒰 : Type) : True := by\n  -- by the way\n  have : "by" = "by" := rfl\n  trivial\n'
    (d,) = parse(text).decls
    assert [i.head for i in d.main.items] == ["have", "trivial"]
    assert d.main.items[0].blocks == []
    src = parse(text).source
    line, col = src.pos(text.index("trivial"))
    assert (line, col) == (4, 2)
    assert src.offset(1, text.split("\n")[0].index(":=")) == text.index(":=")


def test_tree_arms_calc_and_inline_by() -> None:
    text = (
        "theorem v (n : ℕ) : 0 ≤ n := by\n"
        "  induction n with\n"
        "  | zero => simp\n"
        "  | succ k ih =>\n"
        "    have : 0 ≤ k + 1 := by omega\n"
        "    exact this\n"
        "  calc 0 ≤ 0 := le_refl _\n"
        "    _ ≤ n := by positivity\n"
    )
    (d,) = parse(text).decls
    ind, calc = d.main.items
    assert ind.head == "induction" and [b.kind for b in ind.blocks] == ["arm", "arm"]
    assert [i.head for i in ind.blocks[1].items] == ["have", "exact"]
    assert calc.head == "calc" and [b.kind for b in calc.blocks] == ["by"]
    path = innermost(d, text.index("positivity"))
    assert isinstance(path[-1], Item) and path[-1].head == "positivity"


def test_tree_term_proof_and_tactic_at_column_zero() -> None:
    (d,) = parse("theorem w : 1 = 1 := rfl\n").decls
    assert d.main is None and d.term is not None
    text = "theorem z (a : ℕ) : a ≤ a := by\n\nnlinarith [sq_nonneg (a - 1),\nsq_nonneg a]\n"
    (d,) = parse(text).decls
    assert d.main.column == 0 and len(d.main.items) == 1


# ---------------------------------------------------------------------------------------------------
# Sorrify rules


def test_leaf_error_last_becomes_sorry_middle_is_removed() -> None:
    text = "theorem t (a : ℕ) : a = a := by\n  simp at *\n  norm_num\n  linarith\n"
    st = sorrify_step(text, [err(3, 2, "simp made no progress", (3, 10))])
    assert st.text == "theorem t (a : ℕ) : a = a := by\n  simp at *\n  linarith\n"
    st = sorrify_step(text, [err(4, 2, "linarith failed to find a contradiction", (4, 10))])
    assert st.text.endswith("  norm_num\n  sorry\n")


def test_unsolved_goals_appends_one_sorry_per_goal() -> None:
    text = "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n"
    msg = err(1, 52, "unsolved goals\ncase left\np q : Prop\n⊢ p\n\ncase right\np q : Prop\n⊢ q", (2, 13))
    st = sorrify_step(text, [msg])
    assert st.text == text.rstrip("\n") + "\n  sorry\n  sorry\n"
    # a one-line `have … := by tac` with unsolved goals: its proof becomes sorry
    text = "theorem t (a : ℕ) : a = a := by\n  have h : a + 0 = a := by simp only []\n  rfl\n"
    st = sorrify_step(text, [err(2, 24, "unsolved goals\na : ℕ\n⊢ a + 0 = a", (2, 37))])
    assert "have h : a + 0 = a := by sorry\n" in st.text


def test_empty_proof_gets_sorry_and_statement_kept() -> None:
    text = "theorem t (x : ℤ) (h : x < 0) : x ≤ 0 := by"
    st = sorrify_step(
        text, [err(1, 43, "unexpected end of input; expected '{'"), err(1, 41, "unsolved goals\n⊢ x ≤ 0", (1, 43))]
    )
    assert st.text == text + "\n  sorry"


def test_no_goals_removes_tactic_and_bullets() -> None:
    text = "theorem t : True ∧ True := by\n  constructor\n  · trivial\n  · trivial\n  · trivial\n"
    st = sorrify_step(text, [err(5, 2, "no goals to be proved", (5, 11))])
    assert st.text == "theorem t : True ∧ True := by\n  constructor\n  · trivial\n  · trivial\n"


def test_error_in_have_term_proof_and_in_have_statement() -> None:
    text = "theorem t (a : ℕ) : a = a := by\n  have h : a = a + 0 := foo a\n  rfl\n"
    st = sorrify_step(text, [err(2, 24, "unknown identifier 'foo'", (2, 27))])
    assert "have h : a = a + 0 := sorry\n" in st.text
    st = sorrify_step(text, [err(2, 11, "unknown identifier 'x'", (2, 12))])
    assert st.text == "theorem t (a : ℕ) : a = a := by\n  rfl\n"


def test_statement_error_gives_up_helper_statement_is_dropped() -> None:
    text = "lemma helper (x : ℕ) : x = y := by\n  rfl\n\ntheorem t : 1 = 1 := by\n  exact helper 1\n"
    msg = err(1, 27, "unknown identifier 'y'", (1, 28))
    st = sorrify_step(text, [msg], target="t")
    assert st.text.lstrip().startswith("theorem t : 1 = 1 := by") and "helper (x" not in st.text
    st = sorrify_step(text, [msg], target="helper")
    assert st.gave_up is not None and "statement of helper" in st.gave_up and st.text == text


def test_error_inside_bullet_and_parse_error_defers_truncation_artefacts() -> None:
    text = (
        "theorem t (p : Prop) (hp : p) : p ∧ p := by\n"
        "  constructor\n"
        "  · intro h\n"
        "      exact hp\n"
        "  · exact hp\n"
    )
    msgs = [
        err(4, 6, "unexpected token 'exact'; expected command", (4, 11)),
        err(1, 41, "unsolved goals\ncase right\n⊢ p", (3, 11)),
    ]
    st = sorrify_step(text, msgs)
    assert "  · sorry\n  · exact hp\n" in st.text
    assert [m.pos for m, _ in st.deferred] == [Pos(1, 41)]


def test_junk_after_the_proof_is_removed() -> None:
    text = "theorem t : True := by\n  trivial\nend\n"
    st = sorrify_step(text, [err(3, 0, "invalid 'end', insufficient scopes", (3, 3))])
    assert st.text == "theorem t : True := by\n  trivial\n"


def test_parse_diagnostics_text_form() -> None:
    out = "C:\\w\\f.lean:12:4: error: unsolved goals\nx : ℕ\n⊢ x = x\nC:\\w\\f.lean:13:0: warning: unused\n"
    ms = parse_diagnostics(out, line_offset=10)
    assert [(m.severity, m.pos) for m in ms] == [("error", Pos(2, 4)), ("warning", Pos(3, 0))]
    assert ms[0].data == "unsolved goals\nx : ℕ\n⊢ x = x"


# ---------------------------------------------------------------------------------------------------
# Every failing attempt of the shared fixture


@pytest.fixture(scope="module")
def recorded(shared_dir):
    path = shared_dir / "fixtures" / "lean_errors" / "pairs.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return load_recorded_attempts(path)


def _touched(code: str, applied: list[Edit], off: int) -> bool:
    """Whether the error at ``off`` is inside what the edits replaced or removed, or at the opener of a block
    that became ``sorry`` / got a ``sorry`` appended (Lean reports unsolved goals at ``by`` / ``·``)."""
    if any(a.start <= off <= a.end for a in applied if a.end > a.start):
        return True
    pf = parse(code)
    d = pf.decl_at(off)
    if d is None:
        return False
    path = innermost(d, off)
    blocks = [n for n in path[-2:] if isinstance(n, Block)]
    for n in path[-1:]:
        if isinstance(n, Item):
            blocks += [b for b in n.blocks if b.opener and pf.source.line(b.opener[0]) == pf.source.line(off)]
    for b in blocks:
        ends = {b.end} | ({b.opener[1]} if b.opener else set())
        for a in applied:
            if a.start == a.end and a.start in ends:
                return True
            if a.end > a.start and b.items and a.start <= b.items[0].start and b.end <= a.end:
                return True
    return False


def _check_step(code: str, messages: tuple[Message, ...], st: SorrifyStep) -> None:
    pf = parse(code)
    src = pf.source
    assert not st.unlocalised, st.unlocalised
    # statements untouched, declarations kept (helpers with broken statements may go)
    new = parse(st.text)
    real = [d for d in pf.decls if is_real_declaration(src, d)]
    for d in real:
        stmt = code[d.start : d.statement_end]
        assert stmt in st.text, f"statement of {d.name} changed"
    assert [d.name for d in new.decls if is_real_declaration(new.source, d)] == [d.name for d in real]
    # every error is handled by an applied (or dominating) edit that covers it, or deferred
    applied = list(st.edits)
    handled = {id(h.message): h for h in st.handled}
    deferred = {id(m) for m, _ in st.deferred}
    truncated = [
        src.offset(m.pos.line, m.pos.column) for m in messages if m.is_error and m.pos and is_parse_error(m.data)
    ]
    for m in messages:
        if not m.is_error:
            continue
        off = src.offset(m.pos.line, m.pos.column)
        if id(m) in deferred:
            assert is_unsolved_goals(m.data) and truncated, m
            continue
        h = handled.get(id(m))
        assert h is not None, f"error not handled: {m}"
        e = h.edit
        live = [a for a in applied if a == e or (a.start <= e.start and e.end <= a.end and a.end > a.start)]
        assert live, f"edit for {m.pos} neither applied nor inside an applied edit"
        assert _touched(code, applied, off), f"error at {m.pos} is not in an edited block: {m.data[:80]}"
    # lines outside the edits are kept verbatim and in order
    kept = []
    pos = 0
    for a in applied:
        kept.append(code[pos : a.start])
        pos = a.end
    kept.append(code[pos:])
    i = 0
    for piece in kept:
        j = st.text.find(piece, i)
        assert j >= 0, "text outside the edits was changed"
        i = j + len(piece)


def test_sorrify_every_failing_recorded_attempt(recorded) -> None:
    failing = [r for r in recorded if r.verdict == "fail" and r.errors]
    assert len(failing) >= 170  # 109 miniF2F (LeanInteract) + 70 Mathlib (lake) + 2 Lean Workbook (kimina)
    gave_up = []
    for r in failing:
        st = sorrify_step(r.code, r.messages)
        if st.gave_up is not None:
            gave_up.append((r.index, st.gave_up))
            assert st.text == r.code
            continue
        assert st.changed, f"row {r.index}: nothing edited"
        _check_step(r.code, r.messages, st)
    # one statement does not elaborate (amc12a_2010_p22: `∑ k : ℤ in Finset.Icc …` over ℝ); nothing else
    assert [i for i, _ in gave_up] == [209], gave_up
    assert "failed to synthesize" in gave_up[0][1]


def test_recorded_fixture_positions_are_read_right(recorded) -> None:
    rows = {r.index: r for r in recorded}
    # LeanInteract row: positions relative to the whole text
    r = rows[216]
    assert r.messages[-1].pos == Pos(18, 16) and r.code.split("\n")[17][16:20] == "have"
    # lake text diagnostics: file lines minus the recorded offset
    r = next(r for r in recorded if r.repo.startswith("jonland82") and r.errors)
    m = r.errors[0]
    assert 1 <= m.pos.line <= r.code.count("\n") + 1
    # Lean-Workbook rows: the recorded offset is one line off; the reader notices it
    assert rows[102].offset_note == "line offset 2 (recorded 3)"
    assert rows[102].errors[0].pos == Pos(16, 2) and r.code
