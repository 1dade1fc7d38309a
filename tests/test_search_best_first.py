"""Best-first search on the in-process scripted environment: ordering, budgets, faults, dedup, batching."""

from __future__ import annotations

import pytest
from fakes import ScriptedEnv, ScriptedGenerator, ScriptedRetriever, theorem

from prover.lean.types import TacticState
from retrieval.base import Premise
from search import build_search
from search.best_first import BestFirstSearch
from search.config import SearchConfig
from search.engine import SearchStats

R, A, A2, B = "⊢ R", "⊢ A", "⊢ A2", "⊢ B"


def run(script: dict, gen: ScriptedGenerator, *, env: ScriptedEnv | None = None, accept=None, **cfg):
    env = env or ScriptedEnv(script)
    name = next(iter(script["theorems"]))
    search = build_search(SearchConfig(**cfg))
    res = search.search(env, env.start(theorem(name)), gen, theorem=theorem(name), accept=accept)
    return res, env


def chain(n: int, *, prove_at: int | None = None) -> dict:
    """States s0 → s1 → ... (tactic "next"); "fin" proves at ``prove_at``; "bad" always fails."""
    tactics = {}
    for i in range(n):
        t = {"next": {"goals": [f"⊢ s{i + 1}"]}, "bad": {"error": "nope"}}
        if prove_at is not None and i == prove_at:
            t["fin"] = {"goals": []}
        tactics[f"⊢ s{i}"] = t
    return {"theorems": {"c": {"goals": ["⊢ s0"]}}, "tactics": tactics}


CHAIN_GEN = ScriptedGenerator(default=[("next", -0.1), ("bad", -1.0), ("fin", -2.0)])


def expanded_states(gen: ScriptedGenerator) -> list[str]:
    return [s for states, _, _ in gen.calls for s in states]


def test_finds_proof_expanding_by_cumulative_logprob() -> None:
    script = {
        "theorems": {"t": {"goals": [R]}},
        "tactics": {
            R: {"a": {"goals": [A]}, "b": {"goals": [B]}},
            A: {"x": {"goals": [A2]}},
            A2: {},
            B: {"fin": {"goals": []}},
        },
    }
    gen = ScriptedGenerator({R: [("a", -0.1), ("b", -2.0)], A: [("x", -5.0)], B: [("fin", -0.1)]})
    res, _ = run(script, gen)
    assert res.proved and res.stop_reason == "proved"
    assert res.tactics == ["b", "fin"]
    assert expanded_states(gen) == [R, A, B]  # A (-0.1) before B (-2.0); A2 (-5.1) never
    assert res.stats.expansions == 3 and res.stats.lean_calls == 4


def test_length_normalisation_changes_order() -> None:
    script = {
        "theorems": {"t": {"goals": [R]}},
        "tactics": {R: {"a": {"goals": [A]}, "b": {"goals": [B]}}, A: {"a2": {"goals": [A2]}}, A2: {}, B: {}},
    }
    table = {R: [("a", -1.0), ("b", -1.2)], A: [("a2", -1.0)]}
    gen = ScriptedGenerator(table)
    run(script, gen)
    assert expanded_states(gen) == [R, A, B, A2]  # ReProver: A2 = -2.0 < B = -1.2
    gen = ScriptedGenerator(table)
    run(script, gen, length_alpha=1.0)
    assert expanded_states(gen) == [R, A, A2, B]  # BFS-Prover, alpha 1: A2 = -2.0 / 2 = -1.0 > B


def test_mean_token_score() -> None:
    script = {"theorems": {"t": {"goals": [R]}}, "tactics": {R: {"simp at h ⊢": {"goals": [A]}}, A: {}}}
    gen = ScriptedGenerator({R: [("simp at h ⊢", -3.0)]})
    res, _ = run(script, gen, tactic_score="mean")
    e = res.graph.edges[0]
    assert e.logprob == -3.0 and e.num_tokens == 4 and e.score == e.mean_logprob == -0.75
    assert res.graph.nodes[2].path_score == -0.75


def test_budget_max_expansions() -> None:
    gen = ScriptedGenerator(default=[("next", -0.1)])
    res, _ = run(chain(100), gen, max_expansions=7)
    assert not res.proved and res.stop_reason == "expansions"
    assert res.stats.expansions == 7 and len(gen.calls) == 7


def test_budget_max_lean_calls() -> None:
    res, env = run(chain(100), CHAIN_GEN, max_lean_calls=5)
    assert res.stop_reason == "lean_calls"
    assert res.stats.lean_calls == 5 == len(env.calls)


def test_budget_stop_mid_expansion_does_not_mark_the_node_failed() -> None:
    """The budget ran out after the first (failing) candidate: the working one was never tried."""
    res, _ = run(chain(3), ScriptedGenerator(default=[("bad", -0.1), ("next", -1.0)]), max_lean_calls=1)
    assert res.stop_reason == "lean_calls"
    assert res.graph.root.status == "open" and not res.graph.root.expanded


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class SlowEnv(ScriptedEnv):
    """Every tactic takes one second of the fake clock."""

    def __init__(self, script: dict, clock: Clock) -> None:
        super().__init__(script)
        self.clock = clock

    def run_tactic(self, state, tactic, timeout=None):
        self.clock.t += 1.0
        return super().run_tactic(state, tactic, timeout)


def test_budget_time_and_timeout_clipping() -> None:
    clock = Clock()
    env = SlowEnv(chain(100), clock)
    search = BestFirstSearch(SearchConfig(time_limit=5.5, tactic_timeout=2.0), clock=clock)
    res = search.search(env, env.start(theorem("c")), ScriptedGenerator(default=["next", "bad"]))
    assert res.stop_reason == "time"
    assert res.stats.lean_calls == 6
    timeouts = [t for _, _, t in env.calls]
    assert timeouts[:4] == [2.0, 2.0, 2.0, 2.0]
    assert timeouts[4] == pytest.approx(1.5) and timeouts[5] == pytest.approx(0.5)  # clipped to time left


def test_tactic_timeout_from_lean_layer_when_unset() -> None:
    env = ScriptedEnv(chain(3))
    search = build_search(SearchConfig(time_limit=None), tactic_timeout=7.0)
    search.search(env, env.start(theorem("c")), ScriptedGenerator(default=["next"]))
    assert {t for _, _, t in env.calls} == {7.0}


def test_max_depth() -> None:
    res, _ = run(chain(10, prove_at=4), CHAIN_GEN, max_depth=4)
    assert not res.proved and res.stop_reason == "depth"
    deep = [n for n in res.graph.state_nodes() if n.depth == 4]
    assert deep and not any(n.expanded for n in deep)
    res, _ = run(chain(10, prove_at=4), CHAIN_GEN, max_depth=5)
    assert res.proved and res.tactics == ["next"] * 4 + ["fin"]


def test_error_timeout_crash_edges_do_not_stop_the_search() -> None:
    script = {
        "theorems": {"t": {"goals": [R]}},
        "tactics": {
            R: {
                "bad": {"error": "unknown identifier 'bad'"},
                "slow": {"sleep": 30},
                "boom": {"crash": True},
                "junk": {"garbage": True},
                "ok": {"goals": [A]},
            },
            A: {"fin": {"goals": []}},
        },
    }
    gen = ScriptedGenerator({R: ["bad", "slow", "boom", "junk", "ok"], A: ["fin"]})
    res, _ = run(script, gen, tactic_timeout=1.0)
    assert res.proved and res.tactics == ["ok", "fin"]
    kinds = [e.kind for e in res.graph.edges]
    assert kinds == ["error", "timeout", "crash", "crash", "ok", "proved"]
    st = res.stats
    assert (st.errors, st.timeouts, st.crashes) == (1, 1, 2)
    assert res.graph.edges[0].error == "unknown identifier 'bad'"


def test_max_crashes_stops() -> None:
    script = {"theorems": {"t": {"goals": [R]}}, "tactics": {R: {f"c{i}": {"crash": True} for i in range(10)}}}
    gen = ScriptedGenerator({R: [f"c{i}" for i in range(10)]})
    res, _ = run(script, gen, max_crashes=3)
    assert res.stop_reason == "crashes" and res.stats.crashes == 3


def test_blank_duplicate_and_banned_candidates_are_not_sent() -> None:
    script = {"theorems": {"t": {"goals": [R]}}, "tactics": {R: {"simp": {"goals": [A]}, "rfl": {"goals": []}}}}
    gen = ScriptedGenerator({R: ["simp", "  simp  ", "sorry", "", "rfl"]})
    res, env = run(script, gen)
    assert [t for _, t, _ in env.calls] == ["simp", "rfl"]
    assert res.stats.skipped == 3 and res.proved


def test_duplicate_states_are_merged_and_expanded_once() -> None:
    script = {
        "theorems": {"t": {"goals": [R]}},
        "tactics": {R: {"a": {"goals": [A]}, "b": {"goals": [A]}, "c": {"goals": [B]}}, A: {}, B: {}},
    }
    gen = ScriptedGenerator({R: ["a", "b", "c"]})
    res, _ = run(script, gen)
    assert res.stop_reason == "exhausted" and res.graph.root.status == "failed"
    assert expanded_states(gen).count(A) == 1
    assert res.stats.duplicates == 1 and res.stats.nodes == 3
    assert len(res.graph.by_pp[A].in_edges) == 2


def test_better_path_requeues_node() -> None:
    # B is first reached with a poor score, then through A with a better one: it must be expanded
    # before C (whose score lies between the two).
    C = "⊢ C"
    script = {
        "theorems": {"t": {"goals": [R]}},
        "tactics": {R: {"b": {"goals": [B]}, "a": {"goals": [A]}, "c": {"goals": [C]}}, A: {"ab": {"goals": [B]}}},
    }
    gen = ScriptedGenerator({R: [("a", -0.1), ("b", -5.0), ("c", -1.0)], A: [("ab", -0.1)]})
    res, _ = run(script, gen)
    assert expanded_states(gen)[:3] == [R, A, B]
    assert res.graph.by_pp[B].path_score == pytest.approx(-0.2)


def test_expansion_batch_uses_one_generate_call() -> None:
    nodes = [f"⊢ n{i}" for i in range(3)]
    script = {
        "theorems": {"t": {"goals": [R]}},
        "tactics": {R: {f"t{i}": {"goals": [n]} for i, n in enumerate(nodes)}, nodes[2]: {"fin": {"goals": []}}},
    }
    gen = ScriptedGenerator({R: ["t0", "t1", "t2"], nodes[2]: ["fin"]})
    res, _ = run(script, gen, expansion_batch=3)
    assert res.proved
    assert [len(states) for states, _, _ in gen.calls] == [1, 3]
    assert res.stats.generate_calls == 2 and res.stats.expansions == 4


def test_rejected_proof_is_marked_unsound_and_search_goes_on() -> None:
    script = {
        "theorems": {"t": {"goals": [R]}},
        "tactics": {R: {"native_decide": {"goals": []}, "b": {"goals": [B]}}, B: {"rfl": {"goals": []}}},
    }
    gen = ScriptedGenerator({R: [("native_decide", -0.1), ("b", -1.0)], B: ["rfl"]})
    seen: list[list[str]] = []

    def accept(path) -> bool:
        tactics = [e.tactic for e in path]
        seen.append(tactics)
        return "native_decide" not in tactics

    res, _ = run(script, gen, accept=accept)
    assert seen == [["native_decide"], ["b", "rfl"]]
    assert res.proved and res.tactics == ["b", "rfl"] and res.stats.gate_rejections == 1
    assert res.graph.edges[0].kind == "unsound"


def test_only_unsound_proofs_stop_after_max_rejections() -> None:
    script = {"theorems": {"t": {"goals": [R]}}, "tactics": {R: {f"nd{i}": {"goals": []} for i in range(5)}}}
    gen = ScriptedGenerator({R: [f"nd{i}" for i in range(5)]})
    res, _ = run(script, gen, accept=lambda p: False, max_gate_rejections=2)
    assert not res.proved and res.stop_reason == "unsound" and res.stats.gate_rejections == 2


def test_retriever_premises_reach_the_generator() -> None:
    prem = [Premise("Nat.add_zero", "theorem Nat.add_zero (n : Nat) : n + 0 = n"), Premise("Nat.zero_add", "...")]
    retriever = ScriptedRetriever(prem)
    env = ScriptedEnv(chain(5, prove_at=1))
    gen = ScriptedGenerator(default=[("next", -0.1), ("fin", -2.0)])
    res = build_search(SearchConfig()).search(
        env, env.start(theorem("c")), gen, theorem=theorem("c"), retriever=retriever, premises_k=1
    )
    assert res.proved
    assert [s for s, _, _ in retriever.calls] == ["⊢ s0", "⊢ s1"]
    assert all(k == 1 for _, _, k in retriever.calls)
    assert gen.calls[0][1] == [[prem[0]]]


def test_every_state_goes_with_its_context_and_seed() -> None:
    gen = ScriptedGenerator(default=[("next", -0.1), ("fin", -2.0)])
    env = ScriptedEnv(chain(5, prove_at=2))
    res = build_search(SearchConfig()).search(env, env.start(theorem("c")), gen, theorem=theorem("c"), seed=5)
    assert res.proved
    last = gen.contexts[-1][0]
    assert last.theorem_name == "c" and last.proof_before == ("next", "next") and last.seed == 5
    assert all(len(cs) == len(states) for cs, (states, _, _) in zip(gen.contexts, gen.calls, strict=True))


def test_progress_callback() -> None:
    seen: list[SearchStats] = []
    env = ScriptedEnv(chain(10, prove_at=3))
    build_search(SearchConfig()).search(env, env.start(theorem("c")), CHAIN_GEN, progress=seen.append)
    # 0: the search started (the live line stops saying "starting Lean"); the proving expansion ends it
    assert [s.expansions for s in seen] == [0, 1, 2, 3]
    assert seen[-1].lean_calls == 9 and seen[-1].nodes == 4


def test_root_state_object_is_used() -> None:
    env = ScriptedEnv(chain(2, prove_at=0))
    root = env.start(theorem("c"))
    assert isinstance(root, TacticState)
    res = build_search(SearchConfig()).search(env, root, ScriptedGenerator(default=["fin"]))
    assert res.proved and res.graph.root.state is root


def test_unknown_algorithm() -> None:
    cfg = SearchConfig()
    cfg.algorithm = "dfs"  # type: ignore[assignment]  # bypass validation
    with pytest.raises(ValueError, match="unknown search algorithm"):
        build_search(cfg)


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        SearchConfig(max_expansions=-1)
    with pytest.raises(ValueError):
        SearchConfig(expansion_batch=0)
    with pytest.raises(ValueError):
        SearchConfig(algorithm="dfs")


def test_state_found_at_the_depth_limit_is_expanded_when_a_shorter_path_reaches_it() -> None:
    # R -x-> X -x2-> X2 -d-> D reaches D at depth 3 (= max_depth: not expanded); later the worse-scored
    # R -y-> Y -d-> D reaches it at depth 2, which must bring it back into the frontier.
    X, X2, Y, D = "⊢ X", "⊢ X2", "⊢ Y", "⊢ D"
    script = {
        "theorems": {"t": {"goals": [R]}},
        "tactics": {
            R: {"x": {"goals": [X]}, "y": {"goals": [Y]}},
            X: {"x2": {"goals": [X2]}},
            X2: {"d": {"goals": [D]}},
            Y: {"d": {"goals": [D]}},
            D: {"fin": {"goals": []}},
        },
    }
    gen = ScriptedGenerator(
        {R: [("x", -0.1), ("y", -5.0)], X: [("x2", -0.1)], X2: [("d", -0.1)], Y: [("d", -0.1)], D: [("fin", -0.1)]}
    )
    for algorithm in ("best_first", "mps"):
        res, _ = run(script, gen, max_depth=3, algorithm=algorithm)
        assert res.proved and res.tactics == ["y", "d", "fin"], algorithm
        assert res.stats.depth_limited >= 1


def test_no_tactic_is_sent_with_less_than_min_tactic_time_left() -> None:
    clock = Clock()
    env = SlowEnv(chain(100), clock)
    search = BestFirstSearch(SearchConfig(time_limit=5.5, tactic_timeout=2.0, min_tactic_time=1.0), clock=clock)
    res = search.search(env, env.start(theorem("c")), ScriptedGenerator(default=["next", "bad"]))
    assert res.stop_reason == "time"
    assert [t for _, _, t in env.calls][-1] == pytest.approx(1.5)  # 0.5 s left was not worth a Lean call
