"""Multi-perspective search: the perspectives take turns, the critic and the heuristics can escape a trap
that holds best-first search, and the heuristic rules compute what they claim."""

from __future__ import annotations

import logging

import pytest
from fakes import ScriptedCritic, ScriptedEnv, ScriptedGenerator, theorem
from pydantic import ValidationError

from prover.lean.types import TacticState
from search import build_search
from search.config import HeuristicWeights, MPSConfig, SearchConfig
from search.graph import SearchGraph
from search.heuristics import Features, heuristic_score, is_case_split, node_features

ROOT = "x : Nat\n⊢ x * 1 + 0 = x"
GOOD = "x : Nat\n⊢ x = x"


def trap_script(depth: int = 60) -> dict:
    """The policy loves ``loop``, which leads to ever longer states; ``good`` (unlikely) leads to a short
    state that ``rfl`` closes."""
    tactics: dict = {
        ROOT: {"loop": {"goals": [ROOT + " + 0"]}, "good": {"goals": [GOOD]}},
        GOOD: {"rfl": {"goals": []}},
    }
    s = ROOT + " + 0"
    for _ in range(depth):
        tactics[s] = {"loop": {"goals": [s + " + 0"]}}
        s = s + " + 0"
    return {"theorems": {"trap": {"goals": [ROOT]}}, "tactics": tactics}


def trap_gen() -> ScriptedGenerator:
    return ScriptedGenerator(
        fn=lambda s: (
            [("rfl", -4.0)] if s == GOOD else [("loop", -0.01), ("good", -4.0)] if s == ROOT else [("loop", -0.01)]
        )
    )


def search(cfg: SearchConfig, critic=None):
    env = ScriptedEnv(trap_script())
    s = build_search(cfg, critic=critic)
    return s.search(env, env.start(theorem("trap")), trap_gen(), theorem=theorem("trap"))


def test_best_first_is_trapped() -> None:
    res = search(SearchConfig(max_expansions=20))
    assert not res.proved and res.stop_reason == "expansions"


def test_heuristic_perspective_escapes_the_trap() -> None:
    cfg = SearchConfig(algorithm="mps", max_expansions=20, mps=MPSConfig(perspectives=["policy", "heuristic"]))
    res = search(cfg)
    assert res.proved and res.tactics == ["good", "rfl"]
    assert res.stats.perspectives == {"policy": 1, "heuristic": 1}  # root, then the short state
    assert res.graph.by_pp[GOOD].extra["perspective"] == "heuristic"


def test_critic_perspective_escapes_the_trap() -> None:
    critic = ScriptedCritic({GOOD: 5.0}, default=-1.0)
    cfg = SearchConfig(algorithm="mps", max_expansions=20, mps=MPSConfig(perspectives=["policy", "critic"]))
    res = search(cfg, critic=critic)
    assert res.proved and res.tactics == ["good", "rfl"]
    assert res.graph.by_pp[GOOD].critic == 5.0 and res.graph.root.critic == -1.0
    # one batched critic call per round that created states (root, then the root's two children)
    assert critic.calls[0] == [ROOT] and sorted(critic.calls[1]) == sorted([ROOT + " + 0", GOOD])
    assert res.stats.critic_time >= 0.0


def test_perspectives_take_turns() -> None:
    cfg = SearchConfig(algorithm="mps", max_expansions=9, mps=MPSConfig(perspectives=["policy", "policy", "breadth"]))
    env = ScriptedEnv(trap_script())
    gen = ScriptedGenerator(fn=lambda s: [("loop", -0.01)])  # no way out: count the turns
    res = build_search(cfg).search(env, env.start(theorem("trap")), gen)
    assert res.stats.expansions == 9
    assert res.stats.perspectives == {"policy": 6, "breadth": 3}
    assert sum(res.stats.perspectives.values()) == res.stats.expansions


def test_missing_critic_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    cfg = SearchConfig(algorithm="mps", max_expansions=20, mps=MPSConfig(perspectives=["critic"]))
    with caplog.at_level(logging.WARNING):
        res = search(cfg)
    assert "no critic" in caplog.text
    assert res.stats.perspectives.keys() == {"policy"}  # fell back to the policy


def test_mps_finds_the_same_multigoal_proof_as_best_first() -> None:
    root = "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"
    two = "case left\n⊢ p\n\ncase right\n⊢ q"
    right = "case right\n⊢ q"
    script = {
        "theorems": {"two": {"goals": [root]}},
        "tactics": {
            root: {"constructor": {"goals": ["case left\n⊢ p", "case right\n⊢ q"]}},
            two: {"exact hp": {"goals": [right]}},
            right: {"exact hq": {"goals": []}},
        },
    }
    gen = ScriptedGenerator({root: ["constructor"], two: ["exact hq", "exact hp"], right: ["exact hq"]})
    for algo in ("best_first", "mps"):
        env = ScriptedEnv(script)
        res = build_search(SearchConfig(algorithm=algo), critic=ScriptedCritic()).search(
            env, env.start(theorem("two")), gen
        )
        assert res.proved and res.tactics == ["constructor", "exact hp", "exact hq"], algo


def test_critic_length_mismatch_is_an_error() -> None:
    class Bad:
        def score(self, states):
            return []

    cfg = SearchConfig(algorithm="mps")
    with pytest.raises(RuntimeError, match="critic returned"):
        search(cfg, critic=Bad())


# --- heuristic rules -------------------------------------------------------------------------------


def test_case_split_detection() -> None:
    assert is_case_split("rcases h with ⟨a, b⟩ | c", 1, 1)
    assert is_case_split("cases h", 1, 1)
    assert is_case_split("interval_cases x <;> simp", 1, 1)
    assert is_case_split("by_cases h : x = 0", 1, 2)
    assert is_case_split("constructor", 1, 2)  # more goals after than before
    assert not is_case_split("obtain ⟨a, b⟩ := h", 1, 1)
    assert is_case_split("obtain ⟨a, b⟩ | h := h", 1, 2)
    assert not is_case_split("simp", 2, 1)


def test_node_features_and_score() -> None:
    g = SearchGraph(TacticState.of_goals(["⊢ aaaa"], 0))
    _, b, _ = g.add_edge(g.root, "simp", "ok", TacticState.of_goals(["⊢ bb"], 1))
    _, c, _ = g.add_edge(b, "simp", "ok", TacticState.of_goals(["⊢ c", "⊢ d"], 2))
    f = node_features(g, c)
    assert f == Features(goals=2, length=len("⊢ c\n\n⊢ d") / len("⊢ aaaa"), cases=1, repeats=1, depth=2)
    w = HeuristicWeights(goals=1.0, length=0.0, cases=10.0, repeats=100.0, depth=0.0)
    assert heuristic_score(f, w) == -(2 + 10 + 100)
    assert heuristic_score(node_features(g, b), w) == -1.0


def test_mps_config_validation() -> None:
    with pytest.raises(ValidationError, match="unknown perspective"):
        MPSConfig(perspectives=["policy", "vibes"])
    with pytest.raises(ValidationError):
        MPSConfig(perspectives=[])


def test_node_features_on_a_deep_chain_use_the_creating_path() -> None:
    """Features of a node whose ancestors were never scored: filled in from the top without recursion (a
    5000-deep chain), and "repeated" means the tactic occurred on the path, however far up."""
    g = SearchGraph(TacticState.of_goals(["⊢ s0"], 0))
    node = g.root
    for i in range(1, 5001):
        tactic = "simp" if i in (1, 5000) else f"t{i}"
        _, node, _ = g.add_edge(node, tactic, "ok", TacticState.of_goals([f"⊢ s{i}"], i))
    f = node_features(g, node)
    assert (f.depth, f.repeats, f.cases) == (5000, 1, 0)
    assert "simp" in f.tactics and len(f.tactics) == 4999  # shared, persistent: t2..t4999 and simp
    mid = g.by_pp["⊢ s2500"]
    assert mid.extra["features"].repeats == 0 and mid.extra["features"].depth == 2500
