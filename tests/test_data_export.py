"""`prover data export` on stores and search graphs made by real batch runs on the REPL protocol double
(the real agent, search, REPL client and store; a scripted generator), on LeanDojo's traced records and on
step files: the right (state, tactic) pairs, preference pairs and critic targets, no held-out theorem in the
output, the counts of each curation filter, and prompts equal to those the generator rendered at inference.

What the double answers is scripted (tests/double/SCRIPT.md); no Lean answer is claimed here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from batch_fakes import double_config, write_script
from fakes import ScriptedGenerator

from data.export import (
    Exporter,
    Holdout,
    StepRecord,
    leandojo_steps,
    load_manifest,
    normalize_statement,
    read_rows,
    split_of,
    write_steps,
)
from prover.batch.runner import AgentFactory, BatchRunner
from prover.cli import main
from prover.lean.types import TacticState, Theorem
from prover.models.base import StepContext
from prover.models.prompts import get_format
from prover.train.sources import export, read_run_dir
from retrieval.base import Premise
from search.graph import SearchGraph

# Theorem alg: `norm_num` leads to a dead end (every tactic there fails), `bad` is rejected by Lean,
# `constructor` then `all_goals assumption` proves it. auto: `norm_num` alone proves it. hard: nothing
# works. held_0: proved, but held out.
ALG = "a b : ℕ\nh : a = b\n⊢ a + 0 = b ∧ b = a"
ALG_SUB = "case left\na b : ℕ\nh : a = b\n⊢ a + 0 = b\n\ncase right\na b : ℕ\nh : a = b\n⊢ b = a"
ALG_DEAD = "a b : ℕ\nh : a = b\n⊢ a = b ∧ b = a"
AUTO = "x : ℕ\n⊢ x * 1 = x"
HARD = "n : ℕ\n⊢ n < 0"
HELD = "y : ℕ\n⊢ y = y"

SCRIPT: dict[str, Any] = {
    "lean_version": "4.24.0-double",
    "theorems": {
        "alg": {"goals": [ALG]},
        "auto": {"goals": [AUTO]},
        "hard": {"goals": [HARD]},
        "held_0": {"goals": [HELD]},
    },
    "tactics": {
        ALG: {
            "norm_num": {"goals": [ALG_DEAD], "axioms": []},
            "bad": {"error": "unknown identifier 'bad'"},
            "constructor": {"goals": ALG_SUB.split("\n\n"), "axioms": []},
        },
        ALG_DEAD: {"simp": {"error": "simp made no progress"}, "omega": {"error": "omega could not prove the goal"}},
        ALG_SUB: {"all_goals assumption": {"error": "no assumption"}, "all_goals omega": {"goals": [], "axioms": []}},
        AUTO: {"norm_num": {"goals": [], "axioms": []}, "bad": {"error": "unknown identifier 'bad'"}},
        HARD: {"omega": {"error": "omega could not prove the goal"}, "simp": {"error": "simp made no progress"}},
        HELD: {"rfl": {"goals": [], "axioms": []}},
    },
}
# Candidates best first: norm_num is tried first at ALG and its dead end is expanded (and fails) first.
TABLE = {
    ALG: [("norm_num", -0.1), ("bad", -0.5), ("constructor", -1.0)],
    ALG_DEAD: [("simp", -0.2), ("omega", -0.3)],
    ALG_SUB: [("all_goals assumption", -0.2), ("all_goals omega", -0.4)],
    AUTO: [("bad", -0.1), ("norm_num", -0.2)],
    HARD: [("omega", -0.1), ("simp", -0.2)],
    HELD: [("rfl", -0.1)],
}


class RenderingGenerator(ScriptedGenerator):
    """The scripted generator, plus what a model backend does with its inputs: render the prompts with the
    configured format (`PromptFormat.render_all`, as `HFGenerator.prompts` does). Rendered prompts are kept."""

    def __init__(self, config: Any) -> None:
        super().__init__(TABLE)
        g = config.generator
        self.fmt, self.max_len = get_format(g.prompt_format, g.model, g.prompt_template), g.max_input_tokens
        self.prompts: list[str] = []

    def generate(self, states, premises, n, contexts=None):  # noqa: ANN001 - the TacticGenerator signature
        self.prompts.extend(self.fmt.render_all(states, premises, contexts, max_len=self.max_len))
        return super().generate(states, premises, n)


def theorems(names) -> list[Theorem]:
    return [Theorem(n, statement(n), "import Mathlib\n\n", "double", {"key": n}) for n in names]


def statement(name: str) -> str:
    return f"theorem {name} : Goal_{name} := by"  # distinct statements: held-out matching compares them


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict[str, Any]:
    """One batch run on the double (2 attempts, graphs saved), with the prompts the generator rendered."""
    tmp = tmp_path_factory.mktemp("export")
    sp = write_script(tmp / "s.json", SCRIPT)
    run_dir = tmp / "run"
    config = double_config(
        sp,
        **{
            "batch.attempts": 2,
            "batch.graphs_dir": str(run_dir / "graphs"),
            "generator.prompt_format": "internlm25",
            "search.max_expansions": 8,
        },
    )
    gens: list[RenderingGenerator] = []

    def make(cfg: Any) -> RenderingGenerator:
        gens.append(RenderingGenerator(cfg))
        return gens[-1]

    summary = BatchRunner(
        config, theorems(SCRIPT["theorems"]), run_dir, factory=AgentFactory(generator=make), progress=False
    ).run()
    assert summary.ran == 8 and summary.fatal is None
    held = tmp / "held.jsonl"
    held.write_text(json.dumps({"name": "held_0", "formal_statement": statement("held_0")}) + "\n")
    prompts = [p for g in gens for p in g.prompts]
    return {"dir": run_dir, "config": config, "held": held, "prompts": prompts, "tmp": tmp}


def do_export(run: dict[str, Any], kind: str, out: Path, **export_cfg: Any) -> dict[str, Any]:
    config = run["config"].model_copy(deep=True)
    config.train.export = config.train.export.model_copy(
        update={"holdout": [str(run["held"])], "valid_fraction": 0.0, **export_cfg}
    )
    return export([run["dir"]], kind, out, config)


def test_batch_saves_every_attempts_graph(run) -> None:
    data = read_run_dir(run["dir"])
    assert len(data.graph_files) == 8
    g = SearchGraph.load(next(p for p in data.graph_files if p.parent.name.startswith("alg-")))
    assert g.meta["theorem_key"] == "alg" and g.meta["status"] == "proved" and g.meta["attempt"] in (0, 1)
    assert {e.kind for e in g.edges} >= {"ok", "error", "proved"}


def test_sft_rows_are_the_proof_path_with_inference_prompts(run, tmp_path) -> None:
    m = do_export(run, "sft", tmp_path / "sft")
    rows = read_rows(tmp_path / "sft" / "train.jsonl")
    # alg's proof twice (two attempts), deduplicated; auto dropped (automation alone), held_0 held out
    assert [(r["theorem"], r["tactic"], r["proof_before"], r["distance"]) for r in rows] == [
        ("alg", "constructor", [], 2),
        ("alg", "all_goals omega", ["constructor"], 1),
    ]
    assert rows[0]["state"] == ALG and rows[1]["state"] == ALG_SUB
    fmt = get_format("internlm25")
    assert rows[1]["prompt"] == fmt.render(ALG_SUB, [], StepContext("alg", ("constructor",)))
    assert rows[1]["completion"] == "all_goals omega<|im_end|>"
    # the exported prompts are exactly prompts the generator rendered during the search
    assert all(r["prompt"] in run["prompts"] for r in rows)
    assert m["removed"] == {"holdout": 2, "automation": 2, "duplicate": 2, "ineffective": 0}
    assert m["read"] == {"search": 8}  # alg 2×2, auto 2×1, held_0 2×1
    assert m["holdout"]["check"] == {"rows_checked": 2, "leaks": 0} and m["holdout"]["names"] == 1
    assert m["prompt_format"] == "internlm25" and m["rows"] == {"train": 2, "valid": 0}
    assert load_manifest(tmp_path / "sft")["kind"] == "sft"
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "sft" / "train.jsonl"), split="train")
    assert ds.column_names[:3] == ["theorem", "statement", "origin"] and len(ds) == 2


def test_dpo_pairs_are_siblings_lean_rejected_or_that_led_nowhere(run, tmp_path) -> None:
    m = do_export(run, "dpo", tmp_path / "dpo", dpo_negatives=["error", "dead_end"])
    rows = read_rows(tmp_path / "dpo" / "train.jsonl")
    got = {(r["theorem"], r["chosen_tactic"], r["rejected_tactic"], r["reason"]) for r in rows}
    assert got == {
        ("alg", "constructor", "norm_num", "dead_end"),
        ("alg", "constructor", "bad", "error"),
        ("alg", "all_goals omega", "all_goals assumption", "error"),
        ("auto", "norm_num", "bad", "error"),  # the automation filter is for sft only
    }
    bad = next(r for r in rows if r["rejected_tactic"] == "bad" and r["theorem"] == "alg")
    assert bad["error"].endswith("unknown identifier 'bad'") and bad["chosen"] == "constructor<|im_end|>"
    assert m["removed"]["duplicate"] == 4 and m["removed"]["holdout"] == 0  # held_0 had no failed sibling
    # only errors: the dead end is not a pair
    m2 = do_export(run, "dpo", tmp_path / "dpo2", dpo_negatives=["error"])
    assert m2["rows"]["train"] == 3


def test_critic_targets_distance_and_dead_states(run, tmp_path) -> None:
    do_export(run, "critic", tmp_path / "critic", critic_distance_cap=8)
    rows = {r["state"]: r for r in read_rows(tmp_path / "critic" / "train.jsonl")}
    assert rows[ALG]["distance"] == 2 and rows[ALG]["label"] == -2.0 and rows[ALG]["provable"]
    assert rows[ALG_SUB]["distance"] == 1
    assert rows[ALG_DEAD]["distance"] == -1 and rows[ALG_DEAD]["label"] == -8.0 and not rows[ALG_DEAD]["provable"]
    assert rows[HARD]["provable"] is False and rows[AUTO]["distance"] == 1
    assert HELD not in rows  # held out
    assert rows[ALG]["text"] == ALG  # the critic's default template


def test_parquet_and_cli(run, tmp_path, capsys) -> None:
    args = ["data", "export", str(run["dir"]), "--kind", "sft", "--out", str(tmp_path / "p"), "--parquet",
            "--holdout", str(run["held"]), "--prompt-format", "bfs", "--valid-fraction", "0"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "sft: 2 train / 0 valid rows" in out and "held-out check: 0 leaks in 2 rows" in out
    rows = read_rows(tmp_path / "p" / "train.parquet")
    assert rows[0]["prompt"] == f"{ALG}:::" and rows[0]["completion"] == "constructor"
    # bad inputs are one-line errors, exit 2
    assert main(["data", "export", str(tmp_path / "nope"), "--kind", "sft", "--out", str(tmp_path / "x")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    assert main(["data", "export", str(run["held"]), "--kind", "sft", "--out", str(tmp_path / "y"),
                 "--no-holdout"]) == 2  # fmt: skip
    assert "not a run directory, search graph" in capsys.readouterr().err


def test_easy_theorems_filter(run, tmp_path) -> None:
    # every theorem that was proved was proved in both attempts: rate 1.0 drops them all
    m = do_export(run, "sft", tmp_path / "e", easy_solve_rate=1.0, drop_automation_proofs=False)
    assert m["removed"]["easy"] == 6 and m["rows"]["train"] == 0


def test_default_holdout_is_the_minif2f_and_proofnet_test_sets(shared_dir) -> None:
    h = Holdout.load(["minif2f:test", "proofnet:test"], shared_dir / "benchmarks")
    assert len(h.names) >= 244 + 186 and h.hit("aime_1983_p1")
    stmt = json.loads((shared_dir / "benchmarks" / "minif2f_test.jsonl").read_text().splitlines()[0])
    renamed = stmt["formal_statement"].replace("aime_1983_p1", "my_copy", 1)
    assert h.hit("my_copy", renamed)  # a renamed copy of a held-out statement is caught by its statement
    assert not h.hit("my_copy", "theorem my_copy : 1 = 1 := by")
    with pytest.raises(Exception, match="prover data download minif2f"):
        Holdout.load(["minif2f:test"], shared_dir / "nowhere")


def test_normalize_statement() -> None:
    a = normalize_statement("theorem foo (x : ℕ)\n    (h : 0 < x) : x ≠ 0 := by")
    b = normalize_statement("lemma bar (x : ℕ) (h : 0 < x) : x ≠ 0 := by sorry")
    assert a == b == "(x : ℕ) (h : 0 < x) : x ≠ 0"
    assert normalize_statement("example : 1 = 1 := by") == ": 1 = 1"


# ---------------------------------------------------------------------------------------------------
# LeanDojo data and step files


def test_leandojo_traced_records(shared_dir, tmp_path) -> None:
    traced = shared_dir / "traced" / "traced_sample.jsonl"
    steps = leandojo_steps(traced)
    assert len(steps) == 16
    ennreal = [s for s in steps if s.theorem == "ENNReal.le_rpow_one_div_iff"]
    assert ennreal[0].tactic == "nth_rw 1 [← rpow_one x]" and ennreal[1].proof_before == (ennreal[0].tactic,)
    config = double_config(Path("/dev/null"), **{"train.export.holdout": [], "train.export.valid_fraction": 0.5})
    m = export([traced, shared_dir / "traced" / "traced_sample_theorems.json"], "sft", tmp_path / "ld", config)
    # the two files hold the same 16 records in LeanDojo's two layouts: read alike, so deduplicated
    rows = read_rows(tmp_path / "ld" / "train.jsonl") + read_rows(tmp_path / "ld" / "valid.jsonl")
    assert m["read"]["leandojo"] == 32 and m["removed"]["duplicate"] == 16 and len(rows) == 16
    # splits are by theorem, never by row
    for r in rows:
        assert r["split"] == split_of(r["theorem"], 0.5)
    assert {r["split"] for r in rows} == {"train", "valid"}
    assert m["prompt_format"] == "reprover"  # the default generator is ReProver's: the prompt is the state
    assert all(r["prompt"] == r["state"] for r in rows)


def test_steps_file_entry_point_with_premises(tmp_path) -> None:
    prem = Premise("Nat.add_comm", "theorem Nat.add_comm (n m : ℕ) : n + m = m + n", "Mathlib/X.lean", 3)
    recs = [
        StepRecord("mut_1", "a b : ℕ\n⊢ a + b = b + a", "rw [Nat.add_comm]", premises=(prem,), origin="mutation",
                   statement="theorem mut_1 (a b : ℕ) : a + b = b + a := by", distance=1),  # fmt: skip
        StepRecord("mut_2", "⊢ True", "trivial", origin="mutation"),
    ]
    assert write_steps(tmp_path / "steps.jsonl", recs) == 2
    config = double_config(Path("/dev/null"), **{"train.export.holdout": [], "train.export.valid_fraction": 0.0})
    m = export([tmp_path / "steps.jsonl"], "sft", tmp_path / "out", config)
    rows = read_rows(tmp_path / "out" / "train.jsonl")
    assert m["read"] == {"mutation": 2} and rows[0]["premises"] == ["Nat.add_comm"]
    assert rows[0]["prompt"].startswith("theorem <a>Nat.add_comm</a> (n m : ℕ)") and rows[0]["prompt"].endswith(
        recs[0].state
    )
    mc = export([tmp_path / "steps.jsonl"], "critic", tmp_path / "c", config)
    assert mc["rows"]["train"] == 1  # only the step with a known distance
    # a held-out statement coming through a pipeline under another name is dropped
    held = tmp_path / "h.jsonl"
    held.write_text(json.dumps({"name": "orig", "formal_statement": "theorem orig (a b : ℕ) : a + b = b + a := by"}))
    config.train.export.holdout = [str(held)]
    m2 = export([tmp_path / "steps.jsonl"], "sft", tmp_path / "out2", config)
    assert m2["removed"]["holdout"] == 1 and m2["rows"]["train"] == 1


# ---------------------------------------------------------------------------------------------------
# Curation on synthetic graphs


def _graph(name: str, tactics: list[str], failing: list[str]) -> SearchGraph:
    """A proof by ``tactics``; at every state each of ``failing`` was tried first and Lean rejected it."""
    g = SearchGraph(TacticState.of_goals([f"⊢ {name}"], 0), theorem=name)
    node = g.root
    for i, t in enumerate(tactics):
        for f in failing:
            g.add_edge(node, f, "error", error="failed")
        if i == len(tactics) - 1:
            g.add_edge(node, t, "proved")
            g.mark_expanded(node)
        else:
            _, nxt, _ = g.add_edge(node, t, "ok", TacticState.of_goals([f"⊢ {name}.{i}"], i + 1))
            g.mark_expanded(node)
            node = nxt
    return g


def _exporter(**cfg: Any) -> Exporter:
    config = double_config(Path("/dev/null"), **{"train.export.holdout": [], "train.export.valid_fraction": 0.0})
    return Exporter("sft", config.generator, config.train.export.model_copy(update=cfg))


def test_frequent_ineffective_tactics_are_capped(tmp_path) -> None:
    ex = _exporter(ineffective_min_tries=10, ineffective_rate=0.2, ineffective_cap=3)
    # `nlinarith` closes 6 proofs, but it was tried 42 times (6 useful): frequent and ineffective
    for i in range(6):
        ex.add_graph(_graph(f"t{i}", ["intro x", "nlinarith"], ["nlinarith"]), ex._theorem("g", f"t{i}"), "g")
        for j in range(4):
            g = SearchGraph(TacticState.of_goals([f"⊢ u{i}.{j}"], 0), theorem="u")
            g.add_edge(g.root, "nlinarith", "error", error="linarith failed")
            ex.add_graph(g, ex._theorem("g", f"u{i}.{j}"), "g")
    m = ex.write(tmp_path / "cap")
    rows = read_rows(tmp_path / "cap" / "train.jsonl")
    assert m["removed"]["ineffective"] == 3
    assert sum(r["tactic"] == "nlinarith" for r in rows) == 3 and sum(r["tactic"] == "intro x" for r in rows) == 6


def test_perplexity_filter_drops_both_tails(tmp_path) -> None:
    def scorer(prompts, completions):
        return [float(len(c)) / 10 for c in completions]  # longer tactic = higher "perplexity"

    ex = _exporter(ppl_low=0.1, ppl_high=0.9)
    ex.scorer = scorer
    for i in range(20):
        ex.add_graph(_graph(f"p{i}", ["x" * (i + 1)], []), ex._theorem("g", f"p{i}"), "g")
    m = ex.write(tmp_path / "ppl")
    rows = read_rows(tmp_path / "ppl" / "train.jsonl")
    assert m["removed"]["perplexity_low"] == 2 and m["removed"]["perplexity_high"] == 1
    assert sorted(len(r["tactic"]) for r in rows) == list(range(3, 20))
    assert all("perplexity" in r for r in rows)


def test_export_refuses_to_write_into_a_foreign_directory(tmp_path) -> None:
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(Exception, match="not an export directory"):
        _exporter().write(tmp_path)


def test_graph_keeps_the_premises_shown_and_reads_gzip(tmp_path) -> None:
    g = _graph("t", ["simp"], ["bad"])
    prem = Premise("Nat.foo", "theorem Nat.foo : 1 = 1", "Mathlib/A.lean", 7)
    g.root.extra["premises"] = [prem]
    g.save(tmp_path / "g.json.gz")
    h = SearchGraph.load(tmp_path / "g.json.gz")
    assert h.root.extra["premises"] == [prem] and h.proof_tactics() == ["simp"]
    assert [e.kind for e in h.edges] == ["error", "proved"]


def test_whole_proofs_in_the_whole_proof_generators_formats(run, tmp_path) -> None:
    from prover.models.extract import complete_statement
    from prover.models.prompts import get_proof_format

    # default whole model: Goedel-Prover-V2 (a chat format): a conversation ending in the gated code
    m = do_export(run, "whole", tmp_path / "w")
    rows = read_rows(tmp_path / "w" / "train.jsonl")
    assert m["prompt_format"] == "goedel-v2" and m["whole"]["chat"] is True
    assert [r["theorem"] for r in rows] == ["alg"]  # auto: automation alone; held_0: held out; hard: unproved
    assert m["removed"]["holdout"] == 2 and m["removed"]["automation"] == 2 and m["removed"]["duplicate"] == 1
    thm = Theorem("alg", statement("alg"), "import Mathlib\n\n", "double", {"key": "alg"})
    proof = f"{statement('alg')}\n  constructor\n  all_goals omega"
    assert rows[0]["proof"] == proof
    assert rows[0]["prompt"] == get_proof_format("goedel-v2").render(thm)
    assert rows[0]["completion"] == [{"role": "assistant", "content": f"```lean4\nimport Mathlib\n\n{proof}\n```"}]
    # a raw format: the prompt text and its continuation, which the generator completes into the same proof
    config_raw = {"prompt_format": "plain"}
    run2 = dict(run, config=run["config"].model_copy(deep=True))
    run2["config"].whole = run2["config"].whole.model_copy(update=config_raw)
    do_export(run2, "whole", tmp_path / "raw")
    raw = read_rows(tmp_path / "raw" / "train.jsonl")[0]
    assert raw["prompt"] == get_proof_format("plain").render(thm) and raw["prompt"].endswith(":= by")
    assert complete_statement(thm, raw["completion"]) == proof
