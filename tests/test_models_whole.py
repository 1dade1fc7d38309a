"""Whole-proof generation: the prompts as the models' authors build them, the self-correction turns, taking the
final Lean block out of chain-of-thought answers, the statement screen, budgets, and the backends (a tiny HF
model built here, a local OpenAI-compatible server, and a scripted completion backend)."""

from __future__ import annotations

import json

import pytest
from conftest import shared_path

from prover.lean.types import Message, Pos, Theorem
from prover.models import ProofCandidate, ProofFeedback, ProofGenerator, WholeConfig
from prover.models.extract import extract_lean_block, screen_proof, statement_name
from prover.models.filters import Completion
from prover.models.prompts import (
    DEEPSEEK_PLAN,
    detect_proof_format,
    formal_statement,
    get_proof_format,
    goedel_errors,
    kimina_errors,
)
from prover.models.whole import SamplingBudget, SamplingUsage, WholeProofGenerator, make_proof_candidate

HEADER = "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n"
STMT = "theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by"
INFORMAL = "Find $|0.12 - 0.26|$. Show that it is 10."
THM = Theorem("mathd_algebra_10", STMT, HEADER, meta={"informal_statement": INFORMAL})
CODE = HEADER + "/-- Find $|0.12 - 0.26|$. Show that it is 10.-/\n" + STMT
PROOF = STMT + "\n  norm_num [abs_of_nonneg]"


# ---------------------------------------------------------------------------------------------------
# Prompts (exact strings; the comments say where each comes from)


def test_deepseek_v2_prompts():
    # DeepSeek-Prover-V2 README quick start: the statement ends ":= by\n  sorry", the fence closes on its own
    # line, then the plan request (CoT); paper appendix A.1: the same without the plan request (non-CoT)
    cot = get_proof_format("deepseek-v2-cot").render(THM)
    assert cot == [
        {
            "role": "user",
            "content": f"Complete the following Lean 4 code:\n\n```lean4\n{CODE}\n  sorry\n```\n\n{DEEPSEEK_PLAN}",
        }
    ]
    assert DEEPSEEK_PLAN.startswith("Before producing the Lean 4 code to formally prove the given theorem")
    non = get_proof_format("deepseek-v2").render(THM)
    want = f"Complete the following Lean 4 code:\n\n```lean4\n{CODE}\n  sorry\n```"
    assert non == [{"role": "user", "content": want}]
    with pytest.raises(ValueError, match="no self-correction turn"):
        get_proof_format("deepseek-v2-cot").render(THM, ProofFeedback("x", ()))


def test_goedel_v2_prompt_and_two_correction_rounds():
    # Goedel-Prover-V2 src/utils.py DeepSeekCoTHandler: statement up to ":= by" + ":= by sorry", the fence
    # closes right after it; correction rounds replay the conversation: the failed answer as the assistant
    # turn, then Lean's errors ("Round 0" is the first failed attempt)
    fmt = get_proof_format("goedel-v2")
    first = fmt.render(THM)
    assert first[0]["content"] == f"Complete the following Lean 4 code:\n\n```lean4\n{CODE} sorry```\n\n{DEEPSEEK_PLAN}"
    checked = HEADER + PROOF
    err = Message("error", "linarith failed", Pos(9, 2), Pos(9, 26))
    fb1 = ProofFeedback(checked, (err,), raw="answer 1")
    fb2 = ProofFeedback(checked, (err,), raw="answer 2", earlier=(fb1,))
    msgs = fmt.render(THM, fb2)
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant", "user"]
    assert msgs[1]["content"] == "answer 1" and msgs[3]["content"] == "answer 2"
    assert msgs[2]["content"].startswith("The proof (Round 0) is not correct. Following is the compilation error")
    assert msgs[4]["content"].startswith("The proof (Round 1) is not correct.")
    assert msgs[4]["content"].endswith("provide a detailed analysis of the error message.")
    assert "<error>norm_num [abs_of_nonneg]</error>" in msgs[4]["content"]


def test_goedel_error_snippets():
    lines = [f"line{i}" for i in range(1, 21)]
    code = "\n".join(lines)
    one = ProofFeedback(code, (Message("error", "bad", Pos(6, 2), Pos(6, 4)),))
    assert goedel_errors(one) == (
        "\nError 1:\n\nCorresponding Code:\n```lean4\n"
        "line2\nline3\nline4\nline5\nli<error>ne</error>6\nline7\n"
        "\n```\n\nError Message: bad\n"
    )
    # a span over 6 lines is cut; no endPos means to the end of the line; warnings are not shown
    long = ProofFeedback(
        code,
        (
            Message("error", "span", Pos(2, 1), Pos(12, 3)),
            Message("error", "eol", Pos(20, 3), None),
            Message("warning", "unused", Pos(1, 0), Pos(1, 1)),
        ),
    )
    text = goedel_errors(long)
    cut = "l<error>ine2\nline3\nline4\nline5\nline6\nline7\n\n... --[Truncated]-- ...\nlin</error>e12\nline13\n"
    assert cut in text
    assert "lin<error>e20</error>\n\n```\n\nError Message: eol" in text and "unused" not in text
    many = ProofFeedback(code, tuple(Message("error", f"e{i}", Pos(i, 0), Pos(i, 1)) for i in range(1, 11)))
    assert goedel_errors(many).endswith("\n... [Omitted 2 more errors] ...\n") and "Error 9" not in goedel_errors(many)


def test_kimina_prompts_and_error_fixing_turn():
    # AI-MO/Kimina-Prover-Preview-Distill-7B card: system prompt, "# Problem:" (informal) and "# Formal
    # statement:" with the statement ending ":= by"
    prev = get_proof_format("kimina-preview").render(THM)
    assert prev[0] == {"role": "system", "content": "You are an expert in mathematics and Lean 4."}
    assert prev[1]["content"] == (
        "Think about and solve the following problem step by step in Lean 4.\n# Problem:"
        "Find $|0.12 - 0.26|$. Show that it is 10.\n# Formal statement:\n```lean4\n" + HEADER + STMT + "\n```\n"
    )
    # Kimina-Prover-Preview kimina_prover_demo/error_fix.py: another system prompt, the statement ending
    # ":= by sorry" after a blank line; the error-fixing turn from utils.create_tool_message
    fmt = get_proof_format("kimina")
    msgs = fmt.render(THM)
    assert msgs[0]["content"].startswith("You are an expert programmer and mathematician")
    lead = "Think about and solve the following problems step by step in Lean 4.\n\n"
    assert msgs[1]["content"] == lead + HEADER + STMT + " sorry"
    checked = "import Mathlib\nimport Aesop\ntheorem t : 1 = 1 := by\n  simp\n  rfl\n  done"
    fb = ProofFeedback(checked, (Message("error", "no goals", Pos(5, 2), Pos(5, 5)),), raw="first answer")
    turn = fmt.render(THM, fb)
    assert turn[2] == {"role": "assistant", "content": "first answer"}
    # lines count from the end of the imports (their Lean server checks the body apart from them)
    assert turn[3]["content"] == kimina_errors(fb) == (
        "# Error 1:\nError message: \nno goals\n\nLean 4 code snippet with error:\n```lean4\n"
        "001  | theorem t : 1 = 1 := by\n002  |   simp\n003 >|   rfl\n004  |   done\n```\n"
    )


def test_plain_template_detection_and_config():
    assert get_proof_format("plain").render(THM) == HEADER + STMT
    tpl = get_proof_format("template", template="{header}-- {name}: {informal}\n{statement}")
    assert tpl.render(THM) == HEADER + "-- mathd_algebra_10: Find $|0.12 - 0.26|$. Show that it is 10.\n" + STMT
    assert detect_proof_format("deepseek-ai/DeepSeek-Prover-V2-7B") == "deepseek-v2-cot"
    assert detect_proof_format("Goedel-LM/Goedel-Prover-V2-32B") == "goedel-v2"
    assert detect_proof_format("AI-MO/Kimina-Prover-Preview-Distill-7B") == "kimina-preview"
    assert detect_proof_format("AI-MO/Kimina-Prover-72B") == "kimina"
    assert detect_proof_format("my/model") == "plain"
    with pytest.raises(ValueError, match="unknown whole-proof prompt format"):
        get_proof_format("nope")
    with pytest.raises(ValueError, match="prompt_format"):
        WholeConfig(prompt_format="nope")
    with pytest.raises(ValueError, match="use api = 'chat'"):
        WholeConfig(backend="openai", api="completions")  # Goedel's prompt is a chat conversation
    with pytest.raises(ValueError, match="prompt_template"):
        WholeConfig(prompt_format="template")
    assert formal_statement(Theorem("t", "theorem t : True := by sorry")) == "theorem t : True := by"


# ---------------------------------------------------------------------------------------------------
# Extraction and the statement screen


def test_extract_final_block_from_chain_of_thought():
    draft = "```lean4\ntheorem mathd_algebra_10 : False := by\n  sorry\n```"
    final = f"```lean4\n{HEADER}{PROOF}\n```"
    # the last block declaring the theorem wins over drafts and a later block of something else
    check = "```python\nprint(1)\n```\n```lean\n#eval 1\n```"
    ans = f"### Plan\n{draft}\nNow the final proof:\n{final}\nAnd a check:\n{check}"
    got = extract_lean_block(ans, "mathd_algebra_10")
    assert got.code == (HEADER + PROOF).strip("\n")
    assert not got.truncated and got.reason is None
    # <think> drafts are ignored; the block after </think> is the answer
    think = f"<think>\n{draft}\n</think>\nSo:\n{final}"
    assert extract_lean_block(think).code == (HEADER + PROOF).strip("\n")
    # cut inside <think>: no proof, even though a draft block is complete
    cut = extract_lean_block(f"<think>\nLet me try\n{draft}\nhmm")
    assert cut.code == "" and cut.truncated and "inside <think>" in (cut.reason or "")
    # a final block without its closing fence (token limit) is used, marked truncated
    open_block = extract_lean_block(f"Plan...\n```lean4\n{PROOF}\n")
    assert open_block.code == PROOF and open_block.truncated
    # no fences at all: Lean code as is; prose: nothing
    assert extract_lean_block(PROOF).code == PROOF
    none = extract_lean_block("I cannot prove this.")
    assert none.code == "" and none.reason == "no Lean block in the answer"
    # fences indented, with spaces after the language
    assert extract_lean_block(f"  ```lean4  \n{PROOF}\n  ```").code == PROOF


def test_screen_uses_the_gate_policy():
    assert statement_name(THM) == "mathd_algebra_10"
    text, problem = screen_proof(THM, HEADER + "lemma helper : (2 : ℝ) = 2 := rfl\n\n" + PROOF)
    assert problem is None and not text.startswith("import") and "lemma helper" in text
    changed = PROOF.replace("= 10", "= 11")
    assert screen_proof(THM, changed)[1] == "the statement of mathd_algebra_10 was changed"
    assert "axiom" in (screen_proof(THM, "axiom cheat : False\n" + PROOF)[1] or "")
    assert "does not contain the statement" in (screen_proof(THM, "theorem other : True := trivial")[1] or "")
    assert screen_proof(THM, "import Mathlib\n")[1] == "the Lean block is empty"


def test_known_published_proofs_pass_the_screen(shared_dir):
    """Every published miniF2F proof (DeepSeek-Prover-V2, Kimina, Seed-Prover) whose statement is the
    DeepSeek-V1.5 one, wrapped as a model answer, comes out as the theorem's proof and passes the screen."""
    bench = shared_dir / "benchmarks"
    shared_path("benchmarks", "minif2f_known_proofs.jsonl")  # skips when missing, fails in CI
    rows = {}
    for split in ("valid", "test"):
        for line in (bench / f"minif2f_dsv15_{split}.jsonl").read_text().splitlines():
            r = json.loads(line)
            rows[(r["name"], r["split"])] = r
    checked = 0
    for line in (bench / "minif2f_known_proofs.jsonl").read_text().splitlines():
        k = json.loads(line)
        r = rows.get((k["name"], k["split"]))
        if r is None or not k["stmt_matches_dsv15_text"]:
            continue
        thm = Theorem(r["name"], r["formal_statement"], r["header"])
        answer = f"Proof plan: ...\n```lean4\n{k['proof']}\n```\n"
        got = extract_lean_block(answer, statement_name(thm))
        text, problem = screen_proof(thm, got.code)
        assert problem is None, (k["name"], problem)
        assert not text.lstrip().startswith("import")
        checked += 1
    assert checked > 600


# ---------------------------------------------------------------------------------------------------
# The generator over a scripted completion backend (a test double of `CompletionBackend`)


class ScriptedBackend:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []
        self.seeds = []

    def complete(self, prompts, n, seeds=None):
        self.calls.append((prompts, n))
        self.seeds.append(seeds)
        return [[self.answers[i % len(self.answers)] for i in range(n)] for _ in prompts]

    def close(self):
        pass


def test_generator_candidates_usage_and_budget():
    good = Completion(f"Plan.\n```lean4\n{HEADER}{PROOF}\n```", -12.0, 40, True, 300)
    prose = Completion("I give up.", -3.0, 4, True, 300)
    cut = Completion(f"Plan.\n```lean4\n{PROOF}", -50.0, 8192, False, 300)
    backend = ScriptedBackend([good, prose, cut])
    gen = WholeProofGenerator(backend, get_proof_format("goedel-v2"))
    assert isinstance(gen, ProofGenerator)
    out = gen.generate([THM], 3, seed=5)
    assert backend.seeds == [[5]] and backend.calls[0][1] == 3
    a, b, c = out[0]
    assert a.usable and STMT in a.text and a.mean_logprob == pytest.approx(-0.3) and a.prompt_tokens == 300
    assert not b.usable and b.problem == "no Lean block in the answer" and b.raw == "I give up."
    assert c.truncated and c.text.startswith(STMT) and c.completion_tokens == 8192
    assert gen.usage == SamplingUsage(samples=3, prompt_tokens=300, completion_tokens=8236, requests=1)
    budget = SamplingBudget(max_samples=4)
    assert budget.allowed(gen.usage, 8) == 1 and SamplingBudget(max_tokens=8000).allowed(gen.usage, 8) == 0
    assert SamplingBudget().allowed(gen.usage, 8) == 8
    # greedy decoding asks for one sample; feedback must match the theorems
    greedy = WholeProofGenerator(ScriptedBackend([good]), get_proof_format("goedel-v2"), temperature=0.0)
    assert len(greedy.generate([THM], 4)[0]) == 1
    with pytest.raises(ValueError, match="feedback entries"):
        gen.generate([THM], 1, feedback=[None, None])
    assert gen.generate([], 3) == [] and gen.generate([THM], 0) == [[]]


def test_raw_format_completion_continues_the_statement():
    # a raw prompt ends with ":= by": the completion is the proof body, up to a closing fence if any
    plain = get_proof_format("plain")
    cand = make_proof_candidate(THM, Completion("\n  norm_num [abs_of_nonneg]\n```\nmore", -1.0, 9), plain)
    assert cand.usable and cand.text == PROOF
    changed = make_proof_candidate(THM, Completion("theorem mathd_algebra_10 : True := trivial", -1.0, 9), plain)
    assert changed.problem == "the statement of mathd_algebra_10 was changed"


def test_candidate_is_a_proof_candidate():
    c = make_proof_candidate(THM, Completion("", 0.0, 0, False, 10), get_proof_format("kimina"))
    assert isinstance(c, ProofCandidate) and not c.usable and "cut at 0 tokens" in (c.problem or "")
