"""Taking the Lean proof out of a whole-proof model's answer, and screening it against the trusted statement.

Chain-of-thought provers write prose, drafts and a final Lean block; what counts is the final block:

* a ``<think> … </think>`` section (Kimina-Prover) holds drafts: the block after the last ``</think>`` wins, and
  an answer that ends inside ``<think>`` (cut by the token limit) has no proof;
* among fenced blocks (```` ```lean4 ````, ```` ```lean ```` or a bare ```` ``` ````; other languages are
  skipped) the last complete one that declares the target theorem wins, else the last one declaring any
  theorem (Kimina's and Goedel-Prover-V2's own extractors also take the last block);
* a block whose closing fence never came (truncated answer) is used only when no complete block exists, and the
  candidate is marked truncated;
* an answer with no fence at all is code if it starts like Lean (``import``, ``theorem``, ...).

The text is then screened without Lean by the soundness gate's own policy (`SoundnessGate.screen`: the
statement must be the trusted one token for token, helper lemmas allowed, forbidden commands rejected): a
second policy here could only drift from the gate's. The model's ``import`` lines are dropped (the trusted
header is used); nothing here makes a text trusted: it still goes through the gate with Lean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prover.lean.gate import SoundnessGate, split_header
from prover.lean.syntax import scan
from prover.lean.types import Theorem

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[ \t]*$")
_LEAN_LANGS = ("lean4", "lean", "")
_LOOKS_LIKE_LEAN = re.compile(r"\s*(?:import|theorem|lemma|example|open|set_option|namespace|/-)\b")


@dataclass(frozen=True, slots=True)
class Extracted:
    """The Lean code of an answer (``""`` when there is none: ``reason`` says why); ``truncated`` when it came
    from a block whose closing fence is missing."""

    code: str
    truncated: bool = False
    reason: str | None = None


def _fenced_blocks(text: str) -> tuple[list[str], str | None]:
    """The Lean blocks of ``text`` that were closed, in order, and the content of a last block left open."""
    blocks: list[str] = []
    lines = text.split("\n")
    inside: list[str] | None = None
    lang = ""
    for line in lines:
        m = _FENCE.match(line)
        if inside is None:
            if m is not None:
                inside, lang = [], m.group(1).lower()
            continue
        if m is not None and m.group(1) == "":
            if lang in _LEAN_LANGS:
                blocks.append("\n".join(inside))
            inside = None
            continue
        inside.append(line)
    open_block = "\n".join(inside) if inside is not None and lang in _LEAN_LANGS else None
    return blocks, open_block


def declares(code: str, name: str | None) -> bool:
    """Does ``code`` declare the theorem ``name`` (any theorem / lemma / example when None)?"""
    for d in scan(code).declarations:
        if d.kind in ("theorem", "lemma", "example") and (name is None or d.name == name or d.full_name == name):
            return True
    return False


def extract_lean_block(answer: str, theorem_name: str | None = None) -> Extracted:
    """The final Lean code of a model's ``answer`` (see the module docstring for the rules)."""
    text = answer
    if THINK_CLOSE in text:
        text = text[text.rindex(THINK_CLOSE) + len(THINK_CLOSE) :]
    elif THINK_OPEN in text:
        return Extracted("", True, "the answer ended inside <think> (token limit?): no final proof")
    blocks, open_block = _fenced_blocks(text)
    if blocks:
        for want in (theorem_name, None):
            for b in reversed(blocks):
                if declares(b, want):
                    return Extracted(b.strip("\n"))
        return Extracted(blocks[-1].strip("\n"))
    if open_block is not None and open_block.strip():
        return Extracted(open_block.strip("\n"), truncated=True)
    if "```" not in text and _LOOKS_LIKE_LEAN.match(text):
        return Extracted(text.strip("\n"))
    if THINK_CLOSE in answer:
        return Extracted("", reason="no Lean block after </think>")
    return Extracted("", reason="no Lean block in the answer")


def complete_statement(theorem: Theorem, completion: str) -> str:
    """A completion that continues the prompt's open ```` ```lean4 ```` block after ``:= by`` (non-chat
    formats): the statement followed by the completion up to its closing fence."""
    end = re.search(r"^[ \t]*```[ \t]*$", completion, flags=re.M)
    body = completion[: end.start()] if end else completion
    return theorem.statement.rstrip() + body.rstrip()


_GATE = SoundnessGate()


def screen_proof(theorem: Theorem, code: str) -> tuple[str, str | None]:
    """``(text, problem)``: ``code`` without its ``import`` lines, and the first reason the soundness gate's
    text screen rejects it (None when it passes the screen: Lean still has to check it)."""
    _header, body, _ = split_header(code)
    body = body.strip("\n")
    if not body.strip():
        return "", "the Lean block is empty"
    reasons = _GATE.screen(theorem, body)
    if reasons:
        return body, reasons[0]
    return body, None


def statement_name(theorem: Theorem) -> str | None:
    """The declared name in the trusted statement (None for an ``example``)."""
    decls = scan(theorem.statement).declarations
    return decls[0].name if decls else theorem.name
