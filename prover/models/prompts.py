"""Prompt formats of the known step provers, as their released code builds them.

* ``reprover`` — ReProver (lean-dojo/ReProver, ``common.format_augmented_state``): each retrieved premise is
  serialised with its name marked ``<a>NAME</a>``, followed by a blank line and *prepended*, so the best premise
  ends up right before the state; premises that would push the prompt past ``max_len`` UTF-8 bytes are skipped.
  Without premises the prompt is the state itself (the ``tacgen-byt5-small`` generator). The model writes the
  ``<a>``/``</a>`` marks in tactics too; they are removed.
* ``internlm25`` — InternLM2.5-StepProver (InternLM/InternLM-Math ``minif2f/proofsearch_internLM2.5-StepProver.py``):
  ``---\\nNAME: …\\n\\n---\\nPROOF_BEFORE: …\\n\\n---\\nSTATE_BEFORE: …\\n\\n---\\nTACTIC: `` as the user turn of an
  InternLM chat (``<|im_start|>user\\n…<|im_end|>\\n<|im_start|>assistant\\n``), stop at ``<|im_end|>``;
  ``PROOF_BEFORE`` is the tactics so far joined by newlines.
* ``internlm2`` — InternLM2-StepProver: ``DECL NAME\\nGOAL STATE\\n`` in the same chat markup; the answer starts with
  ``PROOFSTEP `` which is removed.
* ``internlm-math-plus`` — InternLM2-Math-Plus (InternLM/InternLM-Math ``minif2f/proofsearch_internLM2-plus.py``):
  ``My LEAN 4 state is:\\n```lean\\nSTATE```\\nPlease predict a possible tactic to help me prove the theorem.``
  as the user turn of the same chat markup, stop at ``<|im_end|>``; the answer's
  ``Here is the predicted next tactic:\\n```lean\\n`` and closing ``\\n````` are removed.
* ``bfs`` — BFS-Prover(-V2) (ByteDance-Seed/BFS-Prover-V2 ``src/search/prover_manager.py``): the state followed by
  ``:::``, no chat markup; the completion (up to EOS) is the tactic. Its authors also drop degenerate tactics
  (`filters.DEGENERATE`), which this format turns on.
* ``plain`` — the state only; ``template`` — ``GeneratorConfig.prompt_template`` with ``{state}``, ``{premises}``,
  ``{theorem_name}``, ``{proof_before}``.

``reprover``, ``bfs``, ``plain`` and ``template`` are raw prompts (``chat = False``): the models were trained on
them without any chat markup, so they must never go through a server's chat template (``api = "chat"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prover.lean.types import Theorem
from prover.models.base import ProofFeedback, StepContext
from prover.models.filters import TacticFilter
from retrieval.base import Premise

if TYPE_CHECKING:
    from prover.models.config import GeneratorConfig

MARK_START = "<a>"
MARK_END = "</a>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"


def remove_marks(s: str) -> str:
    """Remove ReProver's premise marks ``<a>`` and ``</a>``."""
    return s.replace(MARK_START, "").replace(MARK_END, "")


def serialize_premise(p: Premise) -> str:
    """ReProver's ``Premise.serialize``: the premise's code with its name marked ``<a>FULL.NAME</a>``.

    ``_root_.NAME`` is replaced first; then the longest suffix of the dotted name that occurs after whitespace
    (optionally in ``«»``) is marked everywhere it occurs.
    """
    annot = f"{MARK_START}{p.full_name}{MARK_END}"
    code = p.code.replace(f"_root_.{p.full_name}", annot)
    fields = p.full_name.split(".")
    for i in range(len(fields)):
        prefix = ".".join(fields[i:])
        new_code = re.sub(rf"(?<=\s)«?{re.escape(prefix)}»?", lambda _m: annot, code)
        if new_code != code:
            code = new_code
            break
    return code


def format_augmented_state(state: str, premises: Sequence[Premise], max_len: int | None = None) -> str:
    """ReProver's retrieval-augmented input: premises (best last), each followed by a blank line, then the state.

    ``max_len`` is in UTF-8 bytes (ByT5 tokens): premises that do not fit beside the state are skipped.
    """
    aug = ""
    length = 0
    budget = (max_len if max_len is not None else 1 << 62) - len(state.encode("utf-8"))
    for p in premises:
        p_str = f"{serialize_premise(p)}\n\n"
        n = len(p_str.encode("utf-8"))
        if length + n > budget:
            continue
        length += n
        aug = p_str + aug
    return aug + state


def internlm_chat(user: str) -> str:
    """One user turn in InternLM's chat markup, ready for the assistant's answer."""
    return f"{IM_START}user\n{user}{IM_END}\n{IM_START}assistant\n"


INTERNLM_MATH_PLUS_ANSWER = "Here is the predicted next tactic:\n```lean\n"


def theorem_full_name(theorem: Theorem | None) -> str:
    """The declaration's full name (with the namespaces open at it), as LeanDojo's ``theorem.full_name`` gives
    it to InternLM's prompts; found by the project's Lean scanner in ``header + statement``."""
    if theorem is None:
        return ""
    from prover.lean.syntax import scan

    decls = [d for d in scan(theorem.header + "\n" + theorem.statement).declarations if d.is_theorem]
    if decls and decls[-1].full_name and decls[-1].full_name.split(".")[-1] == theorem.name.split(".")[-1]:
        return decls[-1].full_name
    return theorem.name


@dataclass(frozen=True)
class PromptFormat:
    name: str
    stop: tuple[str, ...] = ()
    rank_by: str = "mean"  # how the step prover ranks its candidates: "sum" or "mean" log-prob
    uses_premises: bool = False
    strip_prefix: str = ""
    strip_suffix: str = ""
    template: str = "{state}"
    chat: bool = False  # a chat user turn (a chat API may send it); False: a raw prompt, never chat-templated
    drop_degenerate: bool = False  # the authors' extra filter (`filters.DEGENERATE`)

    def render_all(
        self,
        states: Sequence[str],
        premises: Sequence[Sequence[Premise]] | None = None,
        contexts: Sequence[StepContext | None] | None = None,
        max_len: int | None = None,
        chat: bool = False,
    ) -> list[str]:
        """`render` for a batch of states (``premises`` / ``contexts`` aligned with ``states``, or None)."""
        return [
            self.render(s, premises[i] if premises else None, contexts[i] if contexts else None, max_len, chat)
            for i, s in enumerate(states)
        ]

    def render(
        self,
        state: str,
        premises: Sequence[Premise] | None = None,
        context: StepContext | None = None,
        max_len: int | None = None,
        chat: bool = False,
    ) -> str:
        """The prompt; with ``chat`` only the user message (a chat API adds the model's own markup)."""
        ctx = context or StepContext()
        wrap = (lambda u: u) if chat else internlm_chat
        premises = premises or ()
        if self.name == "reprover":
            return format_augmented_state(state, premises, max_len)
        if self.name == "internlm25":
            proof_before = "\n".join(ctx.proof_before)
            return wrap(
                f"---\nNAME: {ctx.theorem_name}\n\n"
                f"---\nPROOF_BEFORE: {proof_before}\n\n"
                f"---\nSTATE_BEFORE: {state}\n\n"
                f"---\nTACTIC: "
            )
        if self.name == "internlm2":
            return wrap(f"DECL {ctx.theorem_name}\nGOAL {state}\n")
        if self.name == "internlm-math-plus":
            return wrap(
                f"My LEAN 4 state is:\n```lean\n{state}```\n"
                "Please predict a possible tactic to help me prove the theorem."
            )
        if self.name == "bfs":
            return f"{state}:::"
        if self.name == "plain":
            return state
        if self.name == "template":
            return self.template.format(
                state=state,
                premises="\n\n".join(serialize_premise(p) for p in premises),
                theorem_name=ctx.theorem_name,
                proof_before="\n".join(ctx.proof_before),
            )
        raise ValueError(f"unknown prompt format {self.name!r}")

    def extract(self, completion: str) -> str:
        """The tactic in a model's completion."""
        text = completion
        for s in self.stop:
            i = text.find(s)
            if i >= 0:
                text = text[:i]
        if self.name == "reprover":
            text = remove_marks(text)
        if self.strip_prefix and text.lstrip().startswith(self.strip_prefix):
            text = text.lstrip()[len(self.strip_prefix) :]
        if self.strip_suffix and text.rstrip().endswith(self.strip_suffix):
            text = text.rstrip()[: -len(self.strip_suffix)]
        return text.strip()


FORMATS: dict[str, PromptFormat] = {
    "reprover": PromptFormat("reprover", rank_by="sum", uses_premises=True),
    "internlm25": PromptFormat("internlm25", stop=(IM_END,), chat=True),
    "internlm2": PromptFormat("internlm2", stop=(IM_END,), strip_prefix="PROOFSTEP ", chat=True),
    "internlm-math-plus": PromptFormat(
        "internlm-math-plus", stop=(IM_END,), strip_prefix=INTERNLM_MATH_PLUS_ANSWER, strip_suffix="\n```", chat=True
    ),
    "bfs": PromptFormat("bfs", drop_degenerate=True),
    "plain": PromptFormat("plain"),
}


def detect_format(model: str) -> str:
    """The prompt format of a known checkpoint, from its name (``plain`` when unknown)."""
    m = model.lower().replace("_", "-").replace(".", "-")
    if "bfs-prover" in m:
        return "bfs"
    if "internlm2-5-step-prover" in m or "internlm2-5-stepprover" in m:
        return "internlm25"
    if "internlm2-step-prover" in m or "internlm2-stepprover" in m:
        return "internlm2"
    if "internlm2-math" in m:  # the Plus script drives -plus-* and -base-* alike
        return "internlm-math-plus"
    if "leandojo" in m or "reprover" in m or "byt5" in m:
        return "reprover"
    return "plain"


CHECKPOINT_INFO = "prover.json"  # written into checkpoints by `prover train`: what trained them, the prompt format


def checkpoint_info(model: str) -> dict[str, Any]:
    """The ``prover.json`` of a checkpoint folder `prover train` wrote (``{}`` for anything else)."""
    if not model:
        return {}
    try:
        data = json.loads((Path(model) / CHECKPOINT_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def get_format(name: str, model: str = "", template: str = "{state}") -> PromptFormat:
    """Resolve a ``prompt_format`` config value (``auto``: the format a `prover train` checkpoint was trained with,
    else from the model name)."""
    if name == "auto":
        info = checkpoint_info(model)
        name = info.get("prompt_format") or detect_format(model)
        if name == "template" and template == "{state}" and info.get("prompt_template"):
            template = info["prompt_template"]
    if name == "template":
        return PromptFormat("template", rank_by="mean", uses_premises="{premises}" in template, template=template)
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown prompt format {name!r}; choose from {sorted(FORMATS) + ['template']}") from None


def critic_input(state: str, template: str = "{state}") -> str:
    """What a learned critic reads for a goal state (`HFCritic` at inference, critic training data)."""
    return template.replace("{state}", state)


def config_format(cfg: GeneratorConfig) -> PromptFormat:
    """The prompt format a generator config selects."""
    return get_format(cfg.prompt_format, cfg.model, cfg.prompt_template)


def tactic_filter(cfg: GeneratorConfig) -> TacticFilter:
    """The filter of a generator config: banned words, and the format authors' degenerate-tactic filter unless
    ``drop_degenerate`` says otherwise."""
    degenerate = config_format(cfg).drop_degenerate if cfg.drop_degenerate is None else cfg.drop_degenerate
    return TacticFilter(cfg.banned, cfg.allow_native_decide, drop_degenerate=degenerate)


def decoding_options(cfg: GeneratorConfig) -> dict[str, Any]:
    """Constructor keywords every model backend takes from the config (prompt, decoding, filters, seed)."""
    return {
        "prompt_format": config_format(cfg),
        "decoding": cfg.decoding,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "max_new_tokens": cfg.max_new_tokens,
        "max_input_tokens": cfg.max_input_tokens,
        "length_penalty": cfg.length_penalty,
        "rank_by": cfg.rank_by,
        "stop": cfg.stop or (),
        "tactic_filter": tactic_filter(cfg),
        "seed": cfg.seed,
    }


# ---------------------------------------------------------------------------------------------------
# Whole-proof formats: a theorem (and maybe Lean's verdict on earlier attempts) → the prompt the model was
# trained on. Chat formats give messages (the backend applies the model's own chat template, or sends them to
# a chat API); raw formats give text the model continues.

DEEPSEEK_PLAN = (
    "Before producing the Lean 4 code to formally prove the given theorem, provide a detailed proof plan "
    "outlining the main proof steps and strategies.\nThe plan should highlight key ideas, intermediate lemmas, "
    "and proof structures that will guide the construction of the final formal proof."
)
GOEDEL_CORRECTION = (
    "The proof (Round {round}) is not correct. Following is the compilation error message, where we use "
    "<error></error> to signal the position of the error.\n\n{errors}\n\nBefore producing the Lean 4 code to "
    "formally prove the given theorem, provide a detailed analysis of the error message."
)
KIMINA_PREVIEW_SYSTEM = "You are an expert in mathematics and Lean 4."
KIMINA_SYSTEM = "You are an expert programmer and mathematician who helps formalizing mathematical problems in Lean 4."

Messages = list[dict[str, str]]


def formal_statement(theorem: Theorem, ending: str = " := by", informal: bool = True) -> str:
    """The Lean text the whole-proof prompts show: header, the informal statement as a doc comment (as the
    DeepSeek-Prover / Goedel / Kimina benchmark files carry it), and the statement ending in ``ending``
    (``" := by"``, ``" := by sorry"``, ``" := by\\n  sorry"``)."""
    stmt = re.sub(r"\s*:=\s*(by)?\s*(sorry)?\s*$", "", theorem.statement.rstrip())
    doc = ""
    text = theorem.meta.get("informal_prefix") if informal else None
    if isinstance(text, str) and text.strip():
        doc = text.rstrip() + "\n"
    elif informal and isinstance(theorem.meta.get("informal_statement"), str) and "/--" not in stmt:
        inf = theorem.meta["informal_statement"].strip().replace("-/", "- /")
        if inf:
            doc = f"/-- {inf}-/\n"
    header = theorem.header.rstrip()
    return (header + "\n\n" if header else "") + doc + stmt + ending


def _error_lines(code_lines: list[str], line: int) -> str:
    return code_lines[line] if 0 <= line < len(code_lines) else ""


def goedel_errors(feedback: ProofFeedback, max_errors: int = 8, max_span_lines: int = 6) -> str:
    """Lean's errors as Goedel-Prover-V2's self-correction turn shows them (``src/utils.py`` ``get_error_str``
    of Goedel-LM/Goedel-Prover-V2): per error, four lines of code before it, the erroneous span wrapped in
    ``<error></error>`` (long spans cut after six lines), the line after, then the message; at most eight."""
    code_lines = feedback.proof.split("\n")
    errors = [m for m in feedback.messages if m.severity == "error" and m.pos is not None]
    out = ""
    for i, e in enumerate(errors[:max_errors]):
        assert e.pos is not None
        sl, sc = e.pos.line - 1, e.pos.column
        if e.end_pos is None:
            el, ec = sl, len(_error_lines(code_lines, sl))
        else:
            el, ec = e.end_pos.line - 1, e.end_pos.column
        snippet = "".join(f"{code_lines[sl + k]}\n" for k in range(-4, 0) if sl + k >= 0)
        first = _error_lines(code_lines, sl)
        if sl != el:
            snippet += first[:sc] + "<error>" + first[sc:] + "\n"
            last_shown = sl
            for j in range(sl + 1, min(el, sl + max_span_lines)):
                snippet += f"{_error_lines(code_lines, j)}\n"
                last_shown = j
            if el > sl + max_span_lines:
                shown = _error_lines(code_lines, last_shown)
                indent = len(shown) - len(shown.lstrip(" "))
                snippet += "\n" + " " * indent + "... --[Truncated]-- ...\n"
            last = _error_lines(code_lines, el)
            snippet += last[:ec] + "</error>" + last[ec:] + "\n"
        else:
            snippet += first[:sc] + "<error>" + first[sc:ec] + "</error>" + first[ec:] + "\n"
        if el + 1 < len(code_lines):
            snippet += f"{code_lines[el + 1]}\n"
        out += f"\nError {i + 1}:\n\nCorresponding Code:\n```lean4\n{snippet}\n```\n\nError Message: {e.data}\n"
    if len(errors) > max_errors:
        out += f"\n... [Omitted {len(errors) - max_errors} more errors] ...\n"
    return out


def kimina_errors(feedback: ProofFeedback, max_errors: int = 3) -> str:
    """Lean's errors as Kimina-Prover's error-fixing turn shows them (MoonshotAI/Kimina-Prover-Preview
    ``kimina_prover_demo/utils.py`` ``create_tool_message``): per error (at most three) the message and a
    five-line numbered snippet of the proof without its ``import`` lines (their Lean server checks the body
    apart from the imports, so its lines count from there), the error line marked ``>``. The goal state
    before the error (from Lean's info tree) is not available here and is left out."""
    lines = feedback.proof.split("\n")
    k = 0
    while k < len(lines) and lines[k].startswith("import"):
        k += 1
    context = lines[k:]
    out = ""
    errors = [m for m in feedback.messages if m.severity == "error"]
    for i, e in enumerate(errors[:max_errors], 1):
        out += f"# Error {i}:\nError message: \n{e.data.strip()}\n\n"
        if e.pos is not None:
            ln = e.pos.line - 1 - k
            snippet = "```lean4\n"
            for j in range(max(0, ln - 2), min(len(context), ln + 3)):
                code = context[j].replace("count_heartbeats in", "")
                snippet += f"{j + 1:03d}{' >' if j == ln else '  '}| {code}\n"
            out += f"Lean 4 code snippet with error:\n{snippet}```\n"
    return out


@dataclass(frozen=True)
class ProofFormat:
    """How a whole-proof model is prompted, with its authors' decoding defaults and where they come from."""

    name: str
    chat: bool
    max_new_tokens: int
    temperature: float
    top_p: float
    source: str
    system: str | None = None
    correction: bool = False  # has a self-correction turn taking Lean's errors
    template: str = ""

    def render(self, theorem: Theorem, feedback: ProofFeedback | None = None) -> Messages | str:
        """The prompt: chat messages (``chat``) or the raw text the model continues."""
        if feedback is not None and not self.correction:
            raise ValueError(f"prompt format {self.name!r} has no self-correction turn (Lean's errors cannot be shown)")
        if not self.chat:
            return self._raw(theorem)
        msgs: Messages = [{"role": "system", "content": self.system}] if self.system else []
        msgs.append({"role": "user", "content": self._first_turn(theorem)})
        if feedback is not None:
            for i, fb in enumerate((*feedback.earlier, feedback)):
                msgs.append({"role": "assistant", "content": fb.raw})
                msgs.append({"role": "user", "content": self._correction_turn(fb, i)})
        return msgs

    def _first_turn(self, theorem: Theorem) -> str:
        if self.name in ("deepseek-v2-cot", "deepseek-v2"):
            code = formal_statement(theorem, " := by\n  sorry")
            plan = f"\n\n{DEEPSEEK_PLAN}" if self.name == "deepseek-v2-cot" else ""
            return f"Complete the following Lean 4 code:\n\n```lean4\n{code}\n```{plan}"
        if self.name == "goedel-v2":
            code = formal_statement(theorem, " := by sorry")
            return f"Complete the following Lean 4 code:\n\n```lean4\n{code}```\n\n{DEEPSEEK_PLAN}"
        if self.name == "kimina-preview":
            informal = str(theorem.meta.get("informal_statement") or "").strip()
            return (
                "Think about and solve the following problem step by step in Lean 4."
                f"\n# Problem:{informal}"
                f"\n# Formal statement:\n```lean4\n{formal_statement(theorem, ' := by', informal=False)}\n```\n"
            )
        if self.name == "kimina":
            return "Think about and solve the following problems step by step in Lean 4.\n\n" + formal_statement(
                theorem, " := by sorry", informal=False
            )
        raise ValueError(f"unknown whole-proof prompt format {self.name!r}")

    def _correction_turn(self, fb: ProofFeedback, index: int) -> str:
        if self.name == "kimina":
            return kimina_errors(fb)
        return GOEDEL_CORRECTION.format(round=index, errors=goedel_errors(fb))

    def _raw(self, theorem: Theorem) -> str:
        if self.name == "plain":
            return formal_statement(theorem, " := by", informal=False)
        stmt = re.sub(r"\s*:=\s*(by)?\s*(sorry)?\s*$", "", theorem.statement.rstrip()) + " := by"
        return self.template.format(
            header=theorem.header,
            statement=stmt,
            name=theorem.name,
            informal=str(theorem.meta.get("informal_statement") or ""),
        )


PROOF_FORMATS: dict[str, ProofFormat] = {
    "deepseek-v2-cot": ProofFormat(
        "deepseek-v2-cot", True, 8192, 1.0, 0.95,
        "DeepSeek-Prover-V2 README quick start (prompt, max_new_tokens=8192) and paper appendix A.2; "
        "temperature/top_p not published: Goedel-Prover-V2's pipeline values for the same prompt",
    ),
    "deepseek-v2": ProofFormat(
        "deepseek-v2", True, 8192, 1.0, 0.95,
        "DeepSeek-Prover-V2 paper appendix A.1 (non-CoT prompt); decoding as deepseek-v2-cot",
    ),
    "goedel-v2": ProofFormat(
        "goedel-v2", True, 32768, 1.0, 0.95,
        "Goedel-Prover-V2 src/utils.py DeepSeekCoTHandler, src/inference.py (top_p 0.95), scripts/pipeline.sh "
        "(temperature 1.0, 8 samples, 2 correction rounds of 2), README (max_new_tokens=32768)",
        correction=True,
    ),
    "kimina-preview": ProofFormat(
        "kimina-preview", True, 8096, 0.6, 0.95,
        "AI-MO/Kimina-Prover-Preview-Distill-7B model card (system prompt, # Problem / # Formal statement, "
        "temperature 0.6, top_p 0.95, max_tokens 8096)",
        system=KIMINA_PREVIEW_SYSTEM,
    ),
    "kimina": ProofFormat(
        "kimina", True, 16000, 0.8, 1.0,
        "Kimina-Prover-Preview kimina_prover_demo/error_fix.py (system prompt, temperature 0.8, max_tokens 16000, "
        "error-fixing turn from utils.create_tool_message)",
        system=KIMINA_SYSTEM,
        correction=True,
    ),
    "plain": ProofFormat("plain", False, 2048, 1.0, 0.95, "ours: header + statement ending ':= by', continued"),
}


def detect_proof_format(model: str) -> str:
    """The whole-proof format of a known checkpoint, from its name (``plain`` when unknown)."""
    m = model.lower().replace("_", "-")
    if "deepseek-prover-v2" in m:
        return "deepseek-v2-cot"
    if "goedel-prover-v2" in m:
        return "goedel-v2"
    if "kimina-prover-preview" in m:
        return "kimina-preview"
    if "kimina-prover" in m:
        return "kimina"
    return "plain"


def get_proof_format(name: str, model: str = "", template: str = "") -> ProofFormat:
    """Resolve a ``whole.prompt_format`` value (``auto``: the format a `prover train` checkpoint was trained with,
    else from the model name)."""
    if name == "auto":
        name = checkpoint_info(model).get("proof_format") or detect_proof_format(model)
    if name == "template":
        if not template:
            raise ValueError("whole.prompt_format = 'template' needs whole.prompt_template")
        return ProofFormat("template", False, 2048, 1.0, 0.95, "ours: whole.prompt_template", template=template)
    try:
        return PROOF_FORMATS[name]
    except KeyError:
        choices = sorted(PROOF_FORMATS) + ["template"]
        raise ValueError(f"unknown whole-proof prompt format {name!r}; choose from {choices}") from None


# ---------------------------------------------------------------------------------------------------
# Draft and sketch prompts of the sketch mode, in the shape DSP+ published (microsoft/DSP-Plus
# ``dsp/draft.py``, ``dsp/sketch.py``; our wording): the draft prompt gives the formal statement (and here the
# informal one when the benchmark has it; never the human proof) and asks for numbered one-equation steps
# (``### Step k:``); the sketch prompt gives that draft as ``informal_proof``, asks for a Lean skeleton of
# ``have`` / ``let`` / ``obtain`` / ``suffices`` / ``induction`` / ``match`` steps each closed by a placeholder
# naming the hypotheses it uses, shows one example, and ends with the header and statement in an open
# ``lean4`` block. Both are one user turn. Templates are Python format strings (README: "Sketch mode").

DRAFT_TEMPLATE = (
    "{informal_block}formal_statement:\n{formal_statement}\n"
    "Work the problem out as an extremely detailed calculation. Write it as numbered steps; each step is "
    "**one** equation and nothing else, no words.\n"
) + r"""
For example:
### Step 1:
\[ 2a + 3 = 11 \]
### Step 2:
\[ 2a = 8 \]
...
### Step 4:
\[ a = 4 \]
"""

SKETCH_TEMPLATE = (
    "informal_proof:\n{draft}\n\n"
    "Prove the theorem below in Lean 4 by following the informal proof. Turn its steps into a sequence of "
    "`have` / `let` / `obtain` / `suffices` / `induction` / `match` steps, but do not prove them: close each step "
    "with `by` followed, on a new line, by the placeholder `{placeholder} [h₁, step3, ...]` that lists the "
    "hypotheses (given, or introduced by earlier steps) the step needs. Use many small steps, each one easy to "
    "prove.\n"
) + """
Make types explicit where the meaning depends on them:
- in `a / b` give `a` or `b` a type: `(1 : ℝ) / 2` is 0.5 but `(1 : ℤ) / 2` is 0;
- in `a - b` give `a` or `b` a type: `(1 : ℤ) - 2` is -1 but `(1 : ℕ) - 2` is 0;
- write the factorial of `n` as `(n)!`, not `n!`.

Example:
```lean4
import Mathlib

example (a b : ℝ) (h₀ : 0 < a) (h₁ : a * b = 1) (h₂ : a = b) : a = 1 := by
  -- Step 1
  have h₃ : a ^ 2 = 1 := by
    -- Step 2
    have h₄ : a * a = 1 := by
      {placeholder} [h₁, h₂]
    {placeholder} [h₄]
  -- Step 3
  have h₅ : a = 1 ∨ a = -1 := by
    {placeholder} [h₃]
  {placeholder} [h₀, h₅]
```

formal_statement:
```lean4
{header}
{formal_statement}
"""


def _statement_by(theorem: Theorem) -> str:
    return re.sub(r"\s*:=\s*(by)?\s*(sorry)?\s*$", "", theorem.statement.rstrip()) + " := by"


def render_draft(theorem: Theorem, template: str = "", *, informal: bool = True) -> str:
    """The draft prompt (one user turn) for ``theorem``: ``template`` (default `DRAFT_TEMPLATE`) with
    ``{formal_statement}``, ``{informal_statement}``, ``{informal_block}`` (the informal statement under its
    label, or nothing), ``{header}`` and ``{name}``. The human proof (``meta["informal_proof"]``) is never
    offered: a draft must not copy it."""
    inf = str(theorem.meta.get("informal_statement") or "").strip() if informal else ""
    block = f"informal_statement:\n{inf}\n\n" if inf else ""
    return (template or DRAFT_TEMPLATE).format(
        formal_statement=_statement_by(theorem),
        informal_statement=inf,
        informal_block=block,
        header=theorem.header.rstrip(),
        name=theorem.name,
    )


def render_sketch(theorem: Theorem, draft: str, template: str = "", *, placeholder: str = "prove_with") -> str:
    """The sketch prompt (one user turn): ``template`` (default `SKETCH_TEMPLATE`) with ``{draft}``,
    ``{formal_statement}``, ``{header}``, ``{name}``, ``{informal_statement}`` and ``{placeholder}``."""
    return (template or SKETCH_TEMPLATE).format(
        draft=draft.strip(),
        formal_statement=_statement_by(theorem),
        header=theorem.header.rstrip(),
        name=theorem.name,
        informal_statement=str(theorem.meta.get("informal_statement") or "").strip(),
        placeholder=placeholder,
    )


def strip_thinking(answer: str) -> tuple[str, str | None]:
    """``(text, problem)``: a reasoning model's answer without its thinking (everything up to the last
    ``</think>``); an answer that ends inside ``<think>`` (cut by the token limit) has no text."""
    if "</think>" in answer:
        return answer[answer.rindex("</think>") + len("</think>") :].strip(), None
    if "<think>" in answer:
        return "", "the answer ended inside <think> (token limit?)"
    return answer.strip(), None
