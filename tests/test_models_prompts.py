"""Prompt formats of the known step provers: exact strings, as their released code builds them."""

from __future__ import annotations

import json

import pytest

from prover.models.base import StepContext
from prover.models.prompts import (
    detect_format,
    format_augmented_state,
    get_format,
    remove_marks,
    serialize_premise,
)
from retrieval.base import Premise

STATE = "n : ℕ\n⊢ gcd n n = n"
GCD = Premise("Nat.gcd", "def Nat.gcd : Nat → Nat → Nat", "Init/Data/Nat/Gcd.lean", 10, "def")
MOD_SELF = Premise("Nat.mod_self", "@[simp] theorem mod_self (n : Nat) : n % n = 0", "Init/Data/Nat/Basic.lean", 5)


def test_serialize_premise_marks_the_name_like_reprover():
    assert serialize_premise(GCD) == "def <a>Nat.gcd</a> : Nat → Nat → Nat"
    # the longest suffix of the dotted name found after whitespace is marked (here only `mod_self`)
    assert serialize_premise(MOD_SELF) == "@[simp] theorem <a>Nat.mod_self</a> (n : Nat) : n % n = 0"
    root = Premise("foo", "theorem _root_.foo : True")
    assert serialize_premise(root) == "theorem <a>foo</a> : True"
    guillemets = Premise("Foo.«bar baz»", "theorem «bar baz» : True")
    assert serialize_premise(guillemets) == "theorem <a>Foo.«bar baz»</a> : True"
    odd = Premise("List.get?", "theorem List.get? : 1 = 1")
    assert serialize_premise(odd) == "theorem <a>List.get?</a> : 1 = 1"


def test_reprover_augmented_state_best_premise_last():
    fmt = get_format("reprover")
    # premises come best first from the retriever; ReProver prepends each, so the best ends next to the state
    text = fmt.render(STATE, [GCD, MOD_SELF])
    assert text == (
        "@[simp] theorem <a>Nat.mod_self</a> (n : Nat) : n % n = 0\n\n"
        "def <a>Nat.gcd</a> : Nat → Nat → Nat\n\n"
        "n : ℕ\n⊢ gcd n n = n"
    )
    assert fmt.render(STATE) == STATE
    assert fmt.render(STATE, []) == STATE


def test_reprover_budget_in_utf8_bytes_skips_premises_that_do_not_fit():
    state_bytes = len(STATE.encode())
    gcd_bytes = len((serialize_premise(GCD) + "\n\n").encode())
    # room for GCD only: MOD_SELF is skipped, a later small premise still fits (ReProver `continue`s)
    small = Premise("triv", "theorem triv : True")
    small_bytes = len((serialize_premise(small) + "\n\n").encode())
    text = format_augmented_state(STATE, [GCD, MOD_SELF, small], max_len=state_bytes + gcd_bytes + small_bytes)
    assert text == "theorem <a>triv</a> : True\n\n" + "def <a>Nat.gcd</a> : Nat → Nat → Nat\n\n" + STATE
    assert format_augmented_state(STATE, [GCD], max_len=state_bytes) == STATE


def test_internlm25_step_prover_format():
    fmt = get_format("internlm25")
    ctx = StepContext("mathd_algebra_10", ("intro h", "norm_num"))
    assert fmt.render("x : ℝ\n⊢ x = x", None, ctx) == (
        "<|im_start|>user\n"
        "---\nNAME: mathd_algebra_10\n\n"
        "---\nPROOF_BEFORE: intro h\nnorm_num\n\n"
        "---\nSTATE_BEFORE: x : ℝ\n⊢ x = x\n\n"
        "---\nTACTIC: <|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert fmt.render("⊢ True") == (
        "<|im_start|>user\n---\nNAME: \n\n---\nPROOF_BEFORE: \n\n---\nSTATE_BEFORE: ⊢ True\n\n---\nTACTIC: "
        "<|im_end|>\n<|im_start|>assistant\n"
    )
    assert fmt.render("⊢ True", chat=True) == (
        "---\nNAME: \n\n---\nPROOF_BEFORE: \n\n---\nSTATE_BEFORE: ⊢ True\n\n---\nTACTIC: "
    )
    assert fmt.stop == ("<|im_end|>",)
    assert fmt.rank_by == "mean"
    assert fmt.extract(" simp [h]<|im_end|>junk") == "simp [h]"


def test_internlm2_step_prover_format_and_proofstep_prefix():
    fmt = get_format("internlm2")
    ctx = StepContext("MyNat.mul_pow")
    assert fmt.render("a b n : ℕ\n⊢ (a * b) ^ n = a ^ n * b ^ n", None, ctx) == (
        "<|im_start|>user\nDECL MyNat.mul_pow\nGOAL a b n : ℕ\n⊢ (a * b) ^ n = a ^ n * b ^ n\n<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert fmt.extract("PROOFSTEP induction n with t Ht") == "induction n with t Ht"


def test_bfs_prover_format():
    fmt = get_format("bfs")
    assert fmt.render(STATE, [GCD]) == "n : ℕ\n⊢ gcd n n = n:::"  # premises are not part of the format
    assert fmt.extract("  nlinarith [sq_nonneg (a - b)]\n") == "nlinarith [sq_nonneg (a - b)]"
    assert fmt.rank_by == "mean"


def test_reprover_extract_removes_marks_and_ranks_by_sum():
    fmt = get_format("reprover")
    assert fmt.extract("rw [<a>Nat.gcd_comm</a>]") == "rw [Nat.gcd_comm]"
    assert remove_marks("<a>x</a>") == "x"
    assert fmt.rank_by == "sum"


def test_template_format():
    fmt = get_format("template", template="[GOAL]\n{state}\n[PROOFSTEP]\n")
    assert fmt.render("⊢ {x | x > 0} = ∅") == "[GOAL]\n⊢ {x | x > 0} = ∅\n[PROOFSTEP]\n"
    fmt = get_format("template", template="{theorem_name}|{proof_before}|{premises}|{state}")
    text = fmt.render("⊢ p", [GCD], StepContext("t", ("a", "b")))
    assert text == "t|a\nb|def <a>Nat.gcd</a> : Nat → Nat → Nat|⊢ p"
    assert fmt.uses_premises


def test_plain_and_detection():
    assert get_format("plain").render(STATE, [GCD]) == STATE
    assert detect_format("kaiyuy/leandojo-lean4-tacgen-byt5-small") == "reprover"
    assert detect_format("kaiyuy/leandojo-lean4-retriever-tacgen-byt5-small") == "reprover"
    assert detect_format("ByteDance-Seed/BFS-Prover-V2-7B") == "bfs"
    assert detect_format("bytedance-research/BFS-Prover") == "bfs"
    assert detect_format("internlm/internlm2_5-step-prover") == "internlm25"
    assert detect_format("internlm/internlm2-step-prover") == "internlm2"
    assert detect_format("/models/my-own-llm") == "plain"
    assert get_format("auto", "ByteDance-Seed/BFS-Prover-V2-32B").name == "bfs"
    with pytest.raises(ValueError, match="unknown prompt format"):
        get_format("nope")


def test_reprover_format_on_a_real_leandojo_record(shared_dir):
    """A LeanDojo Benchmark 4 record (state_before + premises) renders as state text with marked premises."""
    path = shared_dir / "traced" / "traced_sample.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    rec = json.loads(path.read_text().splitlines()[0])
    state = rec["state_before"]
    assert get_format("reprover").render(state) == state
    premises = [Premise("Nat.add_comm", "theorem Nat.add_comm : ∀ (n m : ℕ), n + m = m + n")]
    text = get_format("reprover").render(state, premises)
    assert text.endswith("\n\n" + state)
    assert text.startswith("theorem <a>Nat.add_comm</a> :")


def test_internlm2_math_plus_format():
    # InternLM/InternLM-Math minif2f/proofsearch_internLM2-plus.py: the state inside a lean fence in the chat
    # markup (no newline before the closing fence); the answer's preamble and closing fence are removed
    fmt = get_format("auto", "internlm/internlm2-math-plus-7b")
    assert fmt.name == "internlm-math-plus" and fmt.stop == ("<|im_end|>",) and fmt.chat
    assert fmt.render(STATE) == (
        "<|im_start|>user\nMy LEAN 4 state is:\n```lean\n" + STATE + "```\n"
        "Please predict a possible tactic to help me prove the theorem.<|im_end|>\n<|im_start|>assistant\n"
    )
    assert fmt.render(STATE, chat=True).startswith("My LEAN 4 state is:")
    assert fmt.extract("Here is the predicted next tactic:\n```lean\nsimp [Nat.gcd_self]\n```") == "simp [Nat.gcd_self]"
    assert fmt.extract("Here is the predicted next tactic:\n```lean\nrfl\n```<|im_end|>junk") == "rfl"
    assert fmt.extract("omega") == "omega"


def test_raw_and_chat_formats():
    assert [n for n in ("reprover", "bfs", "plain") if get_format(n).chat] == []
    assert all(get_format(n).chat for n in ("internlm25", "internlm2", "internlm-math-plus"))
    assert get_format("bfs").drop_degenerate and not get_format("reprover").drop_degenerate


def test_theorem_full_name_for_internlm_prompts():
    from prover.lean.types import Theorem
    from prover.models.prompts import theorem_full_name

    # LeanDojo's full_name carries the namespace the declaration sits in
    t = Theorem("bar", "theorem bar : True := by", header="import Mathlib\nnamespace Foo\nopen Nat\n")
    assert theorem_full_name(t) == "Foo.bar"
    assert theorem_full_name(Theorem("bar", "theorem bar : True := by", header="namespace Foo\nend Foo\n")) == "bar"
    assert theorem_full_name(Theorem("Nat.bar", "theorem Nat.bar : True := by")) == "Nat.bar"
    assert theorem_full_name(None) == ""
