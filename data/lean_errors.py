"""Reader of recorded Lean errors on real LLM proof attempts (``$PROVER_SHARED_DIR/fixtures/lean_errors/pairs.jsonl``).

Each row holds a proof text and what Lean said about it, recorded by another project in one of three forms
(see the file's ``SOURCE.md``): REPL JSON messages relative to the whole text (LeanInteract), REPL JSON
relative to the text minus its first lines (kimina-lean-server, ``pos_line_offset``), or ``lake env lean``
text diagnostics with whole-file lines (``pos_line_offset`` lines before the text). `load_recorded_attempts`
turns all three into `Message` objects positioned in the row's ``code`` (1-based lines, code-point columns).

For the kimina rows the recorded ``pos_line_offset`` (3) puts every message one line below a token; the
offset is therefore checked against the text: the first of (recorded, recorded − 1, recorded + 1) under which
every message starts on code is used, and ``offset_note`` says when it differed from the recorded one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from prover.lean.types import Message, Pos
from repair.messages import is_parse_error, parse_diagnostics


@dataclass(frozen=True)
class RecordedAttempt:
    index: int  # 0-based row of the file
    repo: str
    code: str
    verdict: str  # pass | fail
    messages: tuple[Message, ...]  # positioned in ``code``
    lean_version: str
    note: str = ""  # e.g. "Lean timed out: no messages"
    offset_note: str = ""

    @property
    def errors(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.is_error)


def _lines(code: str) -> list[str]:
    return code.split("\n")


def _starts_on_code(code_lines: list[str], m: Message) -> bool:
    """Whether an error lands where Lean puts errors: on a token, or (parse errors: Lean reports them at the
    end of the last token it read) just after one."""
    if m.pos is None or not m.is_error:
        return True
    e = m.end_pos
    if e is not None and not (1 <= e.line <= len(code_lines) and e.column <= len(code_lines[e.line - 1])):
        return False
    if not 1 <= m.pos.line <= len(code_lines):
        return False
    line = code_lines[m.pos.line - 1]
    col = m.pos.column
    if col > len(line):
        return False
    if col == len(line) or line[col].isspace():
        return is_parse_error(m.data) and col > 0 and not line[col - 1].isspace()
    return True


def _shift(messages: list[Message], lines: int) -> list[Message]:
    def p(x: Pos | None) -> Pos | None:
        return None if x is None else Pos(x.line + lines, x.column)

    return [replace(m, pos=p(m.pos), end_pos=p(m.end_pos)) for m in messages]


def load_recorded_attempts(path: str | Path) -> list[RecordedAttempt]:
    out: list[RecordedAttempt] = []
    for i, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines()):
        if not raw.strip():
            continue
        row = json.loads(raw)
        repo = row["source"]["repo"]
        code = row["code"]
        resp = row.get("response")
        recorded = row.get("pos_line_offset")
        note = ""
        msgs: list[Message] = []
        direction = 1  # file line = reported + offset (REPL body-relative) or reported - offset (whole file)
        if isinstance(resp, dict) and "messages" in resp:
            msgs = [Message.from_json(m) for m in resp["messages"]]
        elif isinstance(resp, dict) and isinstance(resp.get("response"), dict):
            msgs = [Message.from_json(m) for m in resp["response"].get("messages", [])]
        elif isinstance(resp, dict) and resp.get("results"):
            r0 = resp["results"][0]
            if r0.get("error"):
                note = f"{r0['error']}: no messages"
            elif isinstance(r0.get("response"), dict):
                msgs = [Message.from_json(m) for m in r0["response"].get("messages", [])]
        elif row.get("raw_output") and ":" in row["raw_output"] and "error" in row["raw_output"]:
            msgs = parse_diagnostics(row["raw_output"])
            direction = -1
        offset_note = ""
        if msgs and recorded:
            lines = _lines(code)
            tried = [recorded, recorded - 1, recorded + 1]
            chosen = None
            for off in tried:
                cand = _shift(msgs, direction * off)
                if all(_starts_on_code(lines, m) for m in cand):
                    chosen = off
                    msgs = cand
                    break
            if chosen is None:
                msgs = _shift(msgs, direction * recorded)
                offset_note = f"no line offset puts every message on code (recorded {recorded})"
            elif chosen != recorded:
                offset_note = f"line offset {chosen} (recorded {recorded})"
        out.append(
            RecordedAttempt(
                index=i,
                repo=repo,
                code=code,
                verdict=row.get("verdict", ""),
                messages=tuple(msgs),
                lean_version=str(row.get("lean_version", "")),
                note=note,
                offset_note=offset_note,
            )
        )
    return out
