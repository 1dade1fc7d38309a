#!/usr/bin/env python3
"""A protocol double of the Lean REPL (leanprover-community/repl): a test tool, never a default.

Speaks the REPL's stdin/stdout protocol (one JSON request, then a blank line; answers pretty-printed
like Lean's ``Json.pretty`` with the REPL's field names, followed by a blank line) with **scripted** proof
states, and can inject faults. Standard library only. The script format is documented in ``SCRIPT.md``
next to this file; that document is the contract, this file implements it.

Run: ``python repl_double.py [--script S.json] [--die-after K] [--transcript X.in]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import time
from typing import Any

WIDTH = 80

# ---------------------------------------------------------------------------------------------------
# Output: Lean's Json.pretty look (keys in reverse order, compact when it fits in 80 columns)


def _compact(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_compact(v[k])}" for k in _keys(v)) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_compact(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


def _keys(d: dict[str, Any]) -> list[str]:
    return sorted(d, reverse=True)  # the REPL's objects come out in reverse key order


def pretty(v: Any, col: int = 0) -> str:
    c = _compact(v)
    if col + len(c) <= WIDTH or not isinstance(v, (dict, list)) or not v:
        return c
    sep = ",\n" + " " * (col + 1)
    if isinstance(v, list):
        return "[" + sep.join(pretty(x, col + 1) for x in v) + "]"
    parts = []
    for k in _keys(v):
        key = json.dumps(k, ensure_ascii=False) + ":"
        sub = _compact(v[k])
        if col + 1 + len(key) + 1 + len(sub) <= WIDTH:
            parts.append(f"{key} {sub}")
        else:
            parts.append(f"{key}\n{' ' * (col + 1)}{pretty(v[k], col + 1)}")
    return "{" + sep.join(parts) + "}"


def emit(obj: Any) -> None:
    sys.stdout.write(pretty(obj) + "\n\n")
    sys.stdout.flush()


def die(msg: str, code: int = 1) -> None:
    sys.stdout.flush()
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()
    os._exit(code)


# ---------------------------------------------------------------------------------------------------
# Input: the REPL's getLines (lines right-trimmed and joined with nothing, up to a blank line)


def read_query(stream) -> str | None:
    """One query as the REPL reads it; None at end of input. A lone blank line gives ``"\\n"``."""
    acc = ""
    while True:
        raw = stream.readline()
        if not raw:
            return acc if acc else None
        line = raw.decode("utf-8", errors="replace")
        if not line.strip():
            return acc if acc else "\n"
        acc += line.rstrip()


def split_transcript(text: str) -> list[str]:
    """Queries of a transcript file (``.in``), as the REPL would read them one by one."""
    out, acc = [], ""
    for line in text.splitlines():
        if not line.strip():
            if acc:
                out.append(acc)
            acc = ""
        else:
            acc += line.rstrip()
    if acc:
        out.append(acc)
    return [q for q in out if not (q.startswith("#") or q.startswith("--"))]


def split_answers(text: str) -> list[str]:
    return [b for b in re.split(r"\n\s*\n", text) if b.strip()]


# ---------------------------------------------------------------------------------------------------
# Positions


def pos_of(text: str, offset: int) -> dict[str, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1)
    return {"line": line, "column": col}


def msg(severity: str, data: str, pos: dict | None = None, end: dict | None = None) -> dict[str, Any]:
    zero = {"line": 0, "column": 0}
    return {"severity": severity, "pos": pos or zero, "endPos": end or pos or zero, "data": data}


# ---------------------------------------------------------------------------------------------------
# Faults

_HELD: list[bytes] = []


def apply_faults(entry: dict[str, Any]) -> None:
    """Faults of a scripted step; returns only if the step should be answered normally."""
    if entry.get("sleep"):
        time.sleep(float(entry["sleep"]))
    if entry.get("stall"):
        while True:
            time.sleep(3600)
    if entry.get("crash"):
        sys.stdout.write('{"proofStatus": "Incomplete: open goals remain",\n "proofState": ')
        die("double: scripted crash (exiting mid-answer)", 1)
    if entry.get("noise"):  # a stray stdout line right before the answer (same block)
        sys.stdout.write(str(entry["noise"]) + "\n")
    if entry.get("grow_mb"):
        _HELD.append(b"\x01" * (int(entry["grow_mb"]) << 20))
    if entry.get("oom"):
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:  # never eat the machine: cap ourselves first
            resource.setrlimit(resource.RLIMIT_AS, (1 << 30, resource.RLIM_INFINITY))
        try:
            while True:
                _HELD.append(b"\x01" * (64 << 20))
        except MemoryError:
            _HELD.clear()
            die("INTERNAL PANIC: out of memory", 1)


class Garbage(Exception):
    pass


# ---------------------------------------------------------------------------------------------------
# The scripted REPL

HEADER_KW = ("import", "open", "set_option", "namespace", "section", "end", "universe", "variable", "attribute")
CHUNK_START = re.compile(
    r"^(?:@\[|private\b|protected\b|noncomputable\b|nonrec\b|unsafe\b|partial\b|local\b|scoped\b|"
    r"import\b|open\b|set_option\b|namespace\b|section\b|end\b|universe\b|variable\b|attribute\b|"
    r"theorem\b|lemma\b|example\b|def\b|abbrev\b|instance\b|axiom\b|structure\b|inductive\b|class\b|"
    r"#|--|/-)"
)
GATE_REF_SUFFIX = "_prover_gate_ref"
DECL_RE = re.compile(r"\b(theorem|lemma|example|def|abbrev|instance|axiom|structure|inductive|class)\b\s*([^\s({\[:]*)")


class State:
    __slots__ = ("goals", "axioms", "sorry")

    def __init__(self, goals: list[str], axioms: list[str] | None = None, sorry: bool = False) -> None:
        self.goals = list(goals)
        self.axioms = list(axioms or [])
        self.sorry = sorry

    def pp(self) -> str:
        return "\n\n".join(self.goals)


class Double:
    def __init__(self, script: dict[str, Any]) -> None:
        self.script = script
        self.theorems: dict[str, Any] = script.get("theorems", {})
        self.tactics: dict[str, dict[str, Any]] = script.get("tactics", {})
        self.statements: dict[str, Any] = {" ".join(k.split()): v for k, v in script.get("statements", {}).items()}
        self.envs: list[dict[str, list[str]]] = []  # env id -> declared names -> their axioms
        self.states: list[State] = []

    # -- ids
    def new_env(self, decls: dict[str, list[str]]) -> int:
        self.envs.append(decls)
        return len(self.envs) - 1

    def new_state(self, st: State) -> int:
        self.states.append(st)
        return len(self.states) - 1

    # -- dispatch, in the REPL's own order of trying the request shapes
    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        if "tactic" in req and "proofState" in req:
            return self.tactic(str(req["tactic"]), int(req["proofState"]))
        if "pickleTo" in req and "env" in req:
            return self.pickle_env(req)
        if "unpickleEnvFrom" in req:
            return self.unpickle_env(req)
        if "pickleTo" in req and "proofState" in req:
            return self.pickle_state(req)
        if "unpickleProofStateFrom" in req:
            return self.unpickle_state(req)
        if "cmd" in req:
            return self.command(req, str(req["cmd"]))
        if "path" in req:
            try:
                with open(req["path"], encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                return {
                    "message": f"no such file or directory (error code: 2)\n  file: {req['path']}"
                    if isinstance(e, FileNotFoundError)
                    else str(e)
                }
            return self.command(req, text)
        die('uncaught exception: {"message": "Could not parse as a valid JSON command:\\nno matching shape"}')
        raise AssertionError

    # -- tactic mode
    def step_answer(
        self,
        st: State,
        messages: list[dict] | None = None,
        sorries: list[dict] | None = None,
        traces: list[str] | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        sid = self.new_state(st)
        if status is None:
            if st.goals:
                status = "Incomplete: open goals remain"
            elif st.sorry:
                status = "Incomplete: contains sorry"
            else:
                status = "Completed"
        out: dict[str, Any] = {"proofStatus": status, "proofState": sid, "goals": list(st.goals)}
        if messages:
            out["messages"] = messages
        if sorries:
            out["sorries"] = sorries
        if traces:
            out["traces"] = traces
        return out

    def tactic(self, tactic: str, ps: int) -> dict[str, Any]:
        if not 0 <= ps < len(self.states):
            return {"message": "Unknown proof state."}
        st = self.states[ps]
        tac = tactic.strip()
        if not st.goals:
            return {"message": "Lean error:\nno goals to be proved"}
        if tac == "sorry":
            sid = self.new_state(State([st.goals[0]], st.axioms))
            nxt = State(st.goals[1:], st.axioms + ["sorryAx"], sorry=True)
            return self.step_answer(nxt, sorries=[{"proofState": sid, "goal": st.goals[0]}])
        entry = self.tactics.get(st.pp(), {}).get(tac)
        if entry is None:
            return {"message": "Lean error:\n<input>:1:1: unknown tactic"}
        apply_faults(entry)
        if entry.get("garbage"):
            raise Garbage
        extra = [msg(m.get("severity", "info"), m["data"]) for m in entry.get("messages", [])]
        if "error" in entry:
            if entry.get("recover"):
                nxt = State([], st.axioms + ["sorryAx"], sorry=True)
                return self.step_answer(
                    nxt, messages=[msg("error", entry["error"])] + extra, status="Incomplete: contains sorry"
                )
            return {"message": "Lean error:\n" + entry["error"]}
        nxt = State(entry.get("goals", []), _union(st.axioms, entry.get("axioms", [])), st.sorry)
        return self.step_answer(
            nxt, messages=extra, traces=entry.get("traces"), status=entry.get("status") if not nxt.goals else None
        )

    # -- pickling (pickles are small JSON files at the given path, so they outlive the process)
    def pickle_env(self, req: dict[str, Any]) -> dict[str, Any]:
        env = int(req["env"])
        if not 0 <= env < len(self.envs):
            return {"message": "Unknown environment."}
        _write_json(req["pickleTo"], {"double": "env", "decls": self.envs[env]})
        return {"env": env}

    def unpickle_env(self, req: dict[str, Any]) -> dict[str, Any]:
        data = _read_pickle(req["unpickleEnvFrom"], "env")
        return {"env": self.new_env(dict(data["decls"]))}

    def pickle_state(self, req: dict[str, Any]) -> dict[str, Any]:
        ps = int(req["proofState"])
        if not 0 <= ps < len(self.states):
            return {"message": "Unknown proof State."}
        st = self.states[ps]
        _write_json(req["pickleTo"], {"double": "state", "goals": st.goals, "axioms": st.axioms, "sorry": st.sorry})
        return self.step_answer(State(st.goals, st.axioms, st.sorry))

    def unpickle_state(self, req: dict[str, Any]) -> dict[str, Any]:
        if req.get("env") is not None and not 0 <= int(req["env"]) < len(self.envs):
            return {"message": "Unknown environment."}
        data = _read_pickle(req["unpickleProofStateFrom"], "state")
        return self.step_answer(State(data["goals"], data["axioms"], data["sorry"]))

    # -- command mode
    def command(self, req: dict[str, Any], text: str) -> dict[str, Any]:
        env = req.get("env")
        if env is not None and not 0 <= int(env) < len(self.envs):
            return {"message": "Unknown environment."}
        decls = dict(self.envs[int(env)]) if env is not None else {}
        # keys and texts both compared stripped (SCRIPT.md), so a key may keep its trailing newline
        canned = {k.strip(): v for k, v in self.script.get("commands", {}).items()}.get(text.strip())
        if canned is not None:
            return self.canned_command(canned, text, decls)
        messages: list[dict] = []
        sorries: list[tuple[list[str], dict, dict]] = []  # goals, pos, endPos (ids are given at the end)
        roots: list[tuple[list[str], dict]] = []
        tactics: list[tuple[str, list[str], dict, dict, list[str]]] = []  # tac, goals before, pos, end, after
        imports_done = False  # imports are allowed only at the beginning, and only without `env`
        slept = False
        for start, chunk in _chunks(text):
            head = chunk.lstrip()
            word = head.split(None, 1)[0] if head.split() else ""
            if word == "import":
                span = pos_of(text, start), pos_of(text, start + len(chunk.rstrip()))
                mod = head.split()[1] if len(head.split()) > 1 else ""
                allowed = self.script.get("modules")
                if env is not None or imports_done:
                    messages.append(
                        msg("error", "invalid 'import' command, it must be used in the beginning of the file", *span)
                    )
                elif allowed is not None and mod not in allowed:
                    root = mod.split(".")[0]
                    messages.append(
                        msg(
                            "error",
                            f"unknown module prefix '{root}'\n\nNo directory '{root}' or file "
                            f"'{mod}.olean' in the search path entries",
                            *span,
                        )
                    )
                elif not slept and self.script.get("import_seconds"):
                    time.sleep(float(self.script["import_seconds"]))
                    slept = True
                continue
            if head.startswith(("--", "/-")):
                continue
            imports_done = True
            if word in HEADER_KW:
                continue
            if head.startswith("#print axioms"):
                name = head[len("#print axioms") :].split()[0] if head[len("#print axioms") :].split() else ""
                if name.startswith("_root_."):  # Lean resolves `_root_.X` to the top-level X
                    name = name[len("_root_.") :]
                p, e = pos_of(text, start), pos_of(text, start + 6)
                if name not in decls:
                    messages.append(msg("error", f"Unknown constant `{name}`", p, e))
                elif decls[name]:
                    messages.append(msg("info", f"'{name}' depends on axioms: [{', '.join(decls[name])}]", p, e))
                else:
                    messages.append(msg("info", f"'{name}' does not depend on any axioms", p, e))
                continue
            if head.startswith("#"):
                p = pos_of(text, start)
                messages.append(msg("info", head.split("\n")[0], p, pos_of(text, start + len(word))))
                continue
            m = DECL_RE.search(chunk)
            if m is None:
                continue
            kind, name = m.group(1), m.group(2)
            scripted = name in self.theorems or name[: -len(GATE_REF_SUFFIX)] in self.theorems
            if kind not in ("theorem", "lemma") and not (kind == "def" and scripted):
                if name:
                    decls[name] = [name] if kind == "axiom" else []
                continue
            self.declaration(text, start, chunk, m, decls, messages, sorries, roots, tactics)
        # ids in the REPL's order: sorries, then root goals, then allTactics
        out: dict[str, Any] = {}
        sorry_json = [
            {"proofState": self.new_state(State(g)), "pos": p, "goal": "\n".join(g), "endPos": e} for g, p, e in sorries
        ]
        if req.get("rootGoals"):
            sorry_json += [
                {"proofState": self.new_state(State(g)), "pos": p, "goal": "\n\n".join(g), "endPos": p}
                for g, p in roots
            ]
        if req.get("allTactics"):
            out["tactics"] = [
                {
                    "usedConstants": [],
                    "tactic": t,
                    "proofState": self.new_state(State(g)),
                    "pos": p,
                    "goals": "\n\n".join(g),
                    "endPos": e,
                }
                for t, g, p, e, _ in tactics
            ]
            if not out["tactics"]:
                del out["tactics"]
        if req.get("infotree") and tactics:
            out["infotree"] = [
                {
                    "node": {
                        "stx": {
                            "range": {"synthetic": False, "start": p, "finish": e},
                            "pp": t,
                            "kind": "double.tactic",
                            "argKinds": [],
                        },
                        "name": "double.tactic",
                        "goalsBefore": g,
                        "goalsAfter": a,
                    },
                    "kind": "TacticInfo",
                    "children": [],
                }
                for t, g, p, e, a in tactics
            ]
        if sorry_json:
            out["sorries"] = sorry_json
        if messages:
            out["messages"] = messages
        out["env"] = self.new_env(decls)
        return out

    def canned_command(self, canned: dict[str, Any], text: str, decls: dict[str, list[str]]) -> dict[str, Any]:
        """A scripted answer to an exact command text (``commands`` in SCRIPT.md): its messages as given, each
        sorry with a fresh proof state holding its goal; the text's theorems are declared (with ``sorryAx``
        when the answer has an error or a sorry)."""
        messages = list(canned.get("messages", []))
        sorries = []
        for so in canned.get("sorries", []):
            entry = {"proofState": self.new_state(State([so["goal"]])), "goal": so["goal"]}
            if "pos" in so:
                entry["pos"] = so["pos"]
                entry["endPos"] = so.get("endPos", so["pos"])
            sorries.append(entry)
        unsound = bool(sorries) or any(m.get("severity") == "error" for m in messages)
        for m in DECL_RE.finditer(text):
            if m.group(1) in ("theorem", "lemma") and m.group(2):
                decls[m.group(2)] = ["propext", "sorryAx"] if unsound else list(canned.get("axioms", ["propext"]))
        out: dict[str, Any] = {}
        if sorries:
            out["sorries"] = sorries
        if messages:
            out["messages"] = messages
        out["env"] = self.new_env(decls)
        return out

    def declaration(self, text, start, chunk, m, decls, messages, sorries, roots, tactics) -> None:
        name = m.group(2)
        npos, nend = pos_of(text, start + m.start(2)), pos_of(text, start + m.end(2))
        th = self.theorems.get(name)
        if th is None and name.endswith(GATE_REF_SUFFIX):
            # the soundness gate's copy of a statement (prover/lean/gate.py): Lean elaborates it as the original
            th = self.theorems.get(name[: -len(GATE_REF_SUFFIX)])
        if th is None:
            # `statements`: a theorem not listed by name is found by what Lean elaborates, its statement
            # (binders and type after the name, whitespace collapsed); for names a caller generates
            th = self.statements.get(signature_key(chunk, m.end()))
        if th is None:
            messages.append(msg("error", f"double: theorem '{name}' is not in the script", npos, nend))
            decls[name] = ["sorryAx"]
            return
        if "error" in th:
            messages.append(msg("error", th["error"], npos, nend))
            return
        assign = chunk.find(":=", m.end())
        if assign < 0:
            messages.append(msg("error", "unexpected end of input; expected ':='", pos_of(text, start + len(chunk))))
            return
        body_off = assign + 2
        while body_off < len(chunk) and chunk[body_off].isspace():
            body_off += 1
        body = chunk[body_off:].rstrip()
        goals = list(th.get("goals", []))
        proof_pos = pos_of(text, start + body_off)
        roots.append((goals, proof_pos))
        used: list[str] = []
        declared_axioms = False
        sorry_used = failed = False
        if body == "sorry":
            sorries.append((goals, proof_pos, pos_of(text, start + body_off + 5)))
            sorry_used = True
        elif body.startswith("by"):
            cur = goals
            for toff, tac in _tactic_lines(body[2:], body_off + 2):
                p, e = pos_of(text, start + toff), pos_of(text, start + toff + len(tac))
                if not cur:
                    messages.append(msg("error", "no goals to be proved", p, e))
                    failed = True
                    break
                if tac == "sorry":
                    sorries.append(([cur[0]], p, e))
                    tactics.append((tac, cur, p, e, cur[1:]))
                    cur, sorry_used = cur[1:], True
                    continue
                entry = self.tactics.get("\n\n".join(cur), {}).get(tac)
                if entry is None:
                    messages.append(msg("error", "unknown tactic", p, e))
                    failed = True
                    break
                apply_faults(entry)
                if entry.get("garbage"):
                    raise Garbage
                messages.extend(msg(x.get("severity", "info"), x["data"], p, e) for x in entry.get("messages", []))
                if "error" in entry:
                    messages.append(msg("error", entry["error"], p, e))
                    failed = True
                    break
                if "axioms" in entry:
                    declared_axioms = True
                    used = _union(used, entry["axioms"])
                tactics.append((tac, cur, p, e, list(entry.get("goals", []))))
                cur = list(entry.get("goals", []))
            else:
                if cur:
                    messages.append(
                        msg(
                            "error",
                            "unsolved goals\n" + "\n\n".join(cur),
                            proof_pos,
                            pos_of(text, start + body_off + len(body)),
                        )
                    )
                    failed = True
        else:
            messages.append(msg("error", "double: only `by` blocks and `sorry` proofs are scripted", proof_pos))
            failed = True
        if sorry_used:
            messages.append(msg("warning", "declaration uses `sorry`", npos, nend))
        if "axioms" in th:
            used = list(th["axioms"])
        elif not declared_axioms:
            used = ["propext"]
        if failed or sorry_used:
            used = _union(used, ["sorryAx"])
        decls[name] = used


def signature_key(chunk: str, name_end: int) -> str:
    """A declaration's statement after its name, up to ``:=``, whitespace collapsed (the ``statements`` key)."""
    assign = chunk.find(":=", name_end)
    return " ".join(chunk[name_end : assign if assign >= 0 else len(chunk)].split())


def _union(a: list[str], b: list[str]) -> list[str]:
    return a + [x for x in b if x not in a]


def _chunks(text: str) -> list[tuple[int, str]]:
    """Top-level commands: a new one starts at a column-0 line beginning with a command keyword."""
    out: list[list[Any]] = []
    off = 0
    for line in text.splitlines(keepends=True):
        if not out or (line.strip() and not line[0].isspace() and CHUNK_START.match(line)):
            out.append([off, line])
        else:
            out[-1][1] += line
        off += len(line)
    return [(o, c) for o, c in out if c.strip()]


def _tactic_lines(block: str, base: int) -> list[tuple[int, str]]:
    """(offset, tactic) for each non-empty, non-comment line of a ``by`` block (``block`` follows ``by``)."""
    out = []
    off = 0
    for line in block.splitlines(keepends=True):
        code = line.split("--", 1)[0].rstrip()
        stripped = code.lstrip()
        if stripped:
            out.append((base + off + (len(code) - len(stripped)), stripped))
        off += len(line)
    return out


def _write_json(path: str, obj: Any) -> None:
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f)


def _read_pickle(path: str, kind: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:  # the real REPL does not catch this either: the process dies
        die(f"uncaught exception: no such file or directory (error code: 2)\n  file: {path}")
        raise
    except (OSError, ValueError) as e:
        die(f"uncaught exception: failed to read file '{path}', invalid header ({e})")
        raise
    if data.get("double") != kind:
        die(f"uncaught exception: failed to read file '{path}': not a pickled {kind}")
    return data


# ---------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--script", help="JSON script (see SCRIPT.md)")
    ap.add_argument("--die-after", type=int, default=None, help="exit after answering K requests")
    ap.add_argument("--transcript", help="replay X.expected.out for the requests of X.in")
    args = ap.parse_args(argv)
    script: dict[str, Any] = {}
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            script = json.load(f)
    stdin = sys.stdin.buffer
    answered = 0
    if args.transcript:
        with open(args.transcript, encoding="utf-8") as f:
            expected_requests = split_transcript(f.read())
        out_path = re.sub(r"\.in$", "", args.transcript) + ".expected.out"
        with open(out_path, encoding="utf-8") as f:
            answers = split_answers(f.read())
    double = Double(script)
    while True:
        query = read_query(stdin)
        if query is None:
            return
        if query.startswith("#") or query.startswith("--"):
            continue
        try:
            req = json.loads(query, strict=False)
        except ValueError as e:
            die(f'uncaught exception: {{"message": "Could not parse JSON:\\n{e}"}}')
        if not isinstance(req, dict):
            die('uncaught exception: {"message": "Could not parse as a valid JSON command:\\nexpected an object"}')
        if args.transcript:
            if answered >= len(answers):
                die(f"double: transcript {args.transcript} has only {len(answers)} answers", 3)
            want = json.loads(expected_requests[answered], strict=False)
            if want != req:
                die(f"double: request {answered + 1} differs from the transcript:\n got  {req}\n want {want}", 3)
            sys.stdout.write(answers[answered].rstrip("\n") + "\n\n")
            sys.stdout.flush()
        else:
            try:
                answer = double.handle(req)
            except Garbage:
                sys.stdout.write("<<< this is not JSON: the double was told to print garbage >>>\n\n")
                sys.stdout.flush()
                answered += 1
                continue
            emit(answer)
        answered += 1
        if args.die_after is not None and answered >= args.die_after:
            die(f"double: exiting after {answered} answers (--die-after)", 1)


if __name__ == "__main__":
    main()
