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
* ``bfs`` — BFS-Prover(-V2) (ByteDance-Seed/BFS-Prover-V2 ``src/search/prover_manager.py``): the state followed by
  ``:::``, no chat markup; the completion (up to EOS) is the tactic.
* ``plain`` — the state only; ``template`` — ``GeneratorConfig.prompt_template`` with ``{state}``, ``{premises}``,
  ``{theorem_name}``, ``{proof_before}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prover.models.base import StepContext
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


@dataclass(frozen=True)
class PromptFormat:
    name: str
    stop: tuple[str, ...] = ()
    rank_by: str = "mean"  # how the step prover ranks its candidates: "sum" or "mean" log-prob
    uses_premises: bool = False
    strip_prefix: str = ""
    template: str = "{state}"

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
        text = text.lstrip()
        if self.strip_prefix and text.startswith(self.strip_prefix):
            text = text[len(self.strip_prefix) :]
        return text.strip()


FORMATS: dict[str, PromptFormat] = {
    "reprover": PromptFormat("reprover", rank_by="sum", uses_premises=True),
    "internlm25": PromptFormat("internlm25", stop=(IM_END,)),
    "internlm2": PromptFormat("internlm2", stop=(IM_END,), strip_prefix="PROOFSTEP "),
    "bfs": PromptFormat("bfs"),
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


def decoding_options(cfg: GeneratorConfig) -> dict[str, Any]:
    """Constructor keywords every model backend takes from the config (prompt, decoding, filters, seed)."""
    return {
        "prompt_format": get_format(cfg.prompt_format, cfg.model, cfg.prompt_template),
        "decoding": cfg.decoding,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "max_new_tokens": cfg.max_new_tokens,
        "max_input_tokens": cfg.max_input_tokens,
        "length_penalty": cfg.length_penalty,
        "rank_by": cfg.rank_by,
        "stop": cfg.stop or (),
        "tactic_filter": TacticFilter(cfg.banned, cfg.allow_native_decide),
        "seed": cfg.seed,
    }
