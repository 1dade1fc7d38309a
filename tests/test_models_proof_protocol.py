"""The `ProofGenerator` protocol and `ProofCandidate` type, through the scripted test double."""

from __future__ import annotations

import dataclasses

import pytest

from prover.lean.types import Message, Pos, Theorem
from prover.models import ProofCandidate, ProofFeedback, ProofGenerator
from tests.fakes import ScriptedProofGenerator


def _thm(name: str) -> Theorem:
    return Theorem(name=name, statement=f"theorem {name} : 1 + 1 = 2 := by", header="import Mathlib")


def test_candidate_is_frozen_and_usable() -> None:
    c = ProofCandidate("theorem t : 1 + 1 = 2 := by norm_num", "raw answer", -3.0, -1.0, 12, 3)
    assert c.usable
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.text = "x"  # type: ignore[misc]
    assert not ProofCandidate("", "no block here", problem="no Lean block in the answer").usable
    assert not ProofCandidate("theorem t : False := by simp", "", problem="statement differs").usable


def test_scripted_generator_follows_protocol() -> None:
    answer = "Thinking...\n```lean4\ntheorem a : 1 + 1 = 2 := by\n  norm_num\n```"
    gen = ScriptedProofGenerator(
        {"a": [answer]}, revisions={"a": ["```lean4\ntheorem a : 1 + 1 = 2 := by\n  rfl\n```"]}
    )
    assert isinstance(gen, ProofGenerator)
    out = gen.generate([_thm("a"), _thm("b")], 3, seed=7)
    assert [len(c) for c in out] == [3, 0]
    assert out[0][0].text == "theorem a : 1 + 1 = 2 := by\n  norm_num"
    assert out[0][0].raw == answer
    err = Message("error", "unsolved goals", Pos(2, 2), Pos(2, 10))
    fb = ProofFeedback(proof=out[0][0].text, messages=(err,), raw=answer)
    assert fb.round == 1 and ProofFeedback("p", (), earlier=(fb,)).round == 2
    again = gen.generate([_thm("a")], 1, feedback=[fb])
    assert again[0][0].text.endswith("rfl")
    assert gen.calls[-1] == (["a"], 1, [fb], None)
