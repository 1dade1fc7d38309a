"""The search graph: dedup, status propagation, cycles, unsound edges, JSON / networkx export."""

from __future__ import annotations

import json

import pytest

from prover.lean.types import TacticState
from search.graph import SearchGraph


def st(*goals: str, id: int = 0) -> TacticState:
    return TacticState.of_goals(list(goals), id)


@pytest.fixture
def g() -> SearchGraph:
    return SearchGraph(st("⊢ A"), theorem="t")


def test_root_and_terminal(g: SearchGraph) -> None:
    assert g.root.id == 0 and g.root.pp == "⊢ A" and g.root.depth == 0
    assert g.done.id == SearchGraph.DONE_ID and g.done.status == "proved"
    assert not g.proved and g.proof_path() is None


def test_dedup_by_pretty_printed_goals(g: SearchGraph) -> None:
    e1, b1, new1 = g.add_edge(g.root, "t1", "ok", st("⊢ B", id=5), score=-1.0)
    e2, b2, new2 = g.add_edge(g.root, "t2", "ok", st("⊢ B", id=9), score=-0.5)
    assert new1 and not new2 and b1 is b2
    assert len(g.nodes) == 3  # root, done, B
    assert [e.tactic for e in b1.in_edges] == ["t1", "t2"]
    # the better path wins the policy score and bumps the version (frontier re-queues)
    assert b1.path_score == -0.5 and b1.best_parent is e2 and b1.version == 1
    assert b1.state is not None and b1.state.id == 5  # first handle kept


def test_depth_is_minimum(g: SearchGraph) -> None:
    _, b, _ = g.add_edge(g.root, "a", "ok", st("⊢ B"))
    _, c, _ = g.add_edge(b, "b", "ok", st("⊢ C"))
    assert c.depth == 2
    g.add_edge(g.root, "c", "ok", st("⊢ C"))
    assert c.depth == 1


def test_proved_propagates_and_keeps_shortest(g: SearchGraph) -> None:
    _, b, _ = g.add_edge(g.root, "a", "ok", st("⊢ B"))
    _, c, _ = g.add_edge(b, "b", "ok", st("⊢ C"))
    g.add_edge(c, "done1", "proved")
    assert c.status == b.status == g.root.status == "proved"
    assert [e.tactic for e in g.proof_path()] == ["a", "b", "done1"]
    g.add_edge(b, "done2", "proved")
    assert [e.tactic for e in g.proof_path()] == ["a", "done2"]
    assert g.proof_tactics() == ["a", "done2"]


def test_failed_propagates(g: SearchGraph) -> None:
    _, b, _ = g.add_edge(g.root, "a", "ok", st("⊢ B"))
    g.add_edge(g.root, "x", "error", error="bad")
    g.mark_expanded(g.root)
    assert g.root.status == "open"  # B is still open
    g.add_edge(b, "y", "timeout", error="timeout")
    g.add_edge(b, "z", "crash", error="crash")
    g.mark_expanded(b)
    assert b.status == "failed" and g.root.status == "failed"


def test_cycle_edges(g: SearchGraph) -> None:
    _, b, _ = g.add_edge(g.root, "a", "ok", st("⊢ B"))
    e_back, tgt, new = g.add_edge(b, "back", "ok", st("⊢ A"))
    assert tgt is g.root and not new and e_back.cycle
    e_self, _, _ = g.add_edge(b, "same", "ok", st("⊢ B"))
    assert e_self.cycle
    g.mark_expanded(g.root)
    g.mark_expanded(b)
    assert b.status == "failed" and g.root.status == "failed"  # cycles do not keep a node alive
    # a sibling that reaches B is not a cycle
    _, c, _ = g.add_edge(g.root, "c", "ok", st("⊢ C"))
    e_side, _, _ = g.add_edge(c, "to_b", "ok", st("⊢ B"))
    assert not e_side.cycle


def test_mark_unsound_recomputes(g: SearchGraph) -> None:
    _, b, _ = g.add_edge(g.root, "a", "ok", st("⊢ B"))
    e, _, _ = g.add_edge(b, "native_decide", "proved")
    g.mark_expanded(g.root)
    g.mark_expanded(b)
    assert g.proved
    g.mark_unsound(e)
    assert e.kind == "unsound" and e.dst is None
    assert not g.proved and b.status == "failed" and g.root.status == "failed"
    assert e not in g.done.in_edges


def test_json_roundtrip_and_networkx(g: SearchGraph, tmp_path) -> None:
    _, b, _ = g.add_edge(g.root, "a", "ok", st("⊢ B", "⊢ C"), logprob=-1.0, mean_logprob=-0.5, num_tokens=2, score=-1.0)
    g.add_edge(g.root, "bad", "error", error="unknown tactic")
    g.add_edge(b, "back", "ok", st("⊢ A"))
    g.add_edge(b, "multi\n  line", "proved", time=0.25)
    g.stop_reason = "proved"
    path = tmp_path / "tree.json"
    g.save(path)
    data = json.loads(path.read_text())
    assert data["proved"] and data["counts"]["edges_error"] == 1 and data["counts"]["cycle_edges"] == 1
    assert data["nodes"][2]["goals"] == ["⊢ B", "⊢ C"]
    h = SearchGraph.load(path)
    assert h.to_json() == g.to_json()
    assert h.proof_tactics() == ["a", "multi\n  line"]
    assert h.nodes[2].best_parent is h.edges[0]
    nx = g.to_networkx()
    assert nx.number_of_edges() == 4
    assert nx.nodes["x1"]["kind"] == "error"
    assert nx.nodes[SearchGraph.DONE_ID]["kind"] == "done"
    assert nx.edges[0, 2, 0]["tactic"] == "a"


def test_from_json_rejects_other_files() -> None:
    with pytest.raises(ValueError):
        SearchGraph.from_json({"nodes": []})
