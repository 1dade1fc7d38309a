"""Real REPL transcripts (fixtures/repl of the shared data): a replaying double fed the `.in` requests through
the client gives the same classification as parsing the recorded answers directly.

The double (``--transcript X.in``) checks that each request it receives equals the transcript's, so the
client's request builders (`command`, `tactic`, `file`, pickling) are checked against the real protocol too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import SHARED

from prover.lean.config import LeanConfig
from prover.lean.record import iter_transcripts, read_transcript
from prover.lean.repl import ReplProcess, request_kind
from prover.lean.types import parse_command_response, parse_tactic_response

DOUBLE = Path(__file__).parent / "double" / "repl_double.py"
FIXTURES = SHARED / "fixtures" / "repl" / "test"
TRANSCRIPTS = list(iter_transcripts(FIXTURES)) if FIXTURES.is_dir() else []
pytestmark = pytest.mark.shared("fixtures", "repl", "test")


def classify(req: dict, answer: dict):
    return parse_tactic_response(answer) if request_kind(req) == "tactic" else parse_command_response(answer)


def via_methods(p: ReplProcess, req: dict):
    if "tactic" in req:
        return p.tactic(req["tactic"], req["proofState"])
    if "pickleTo" in req and "env" in req:
        return p.pickle_env(req["env"], req["pickleTo"])
    if "unpickleEnvFrom" in req:
        return p.unpickle_env(req["unpickleEnvFrom"])
    if "pickleTo" in req:
        return p.pickle_proof_state(req["proofState"], req["pickleTo"])
    if "unpickleProofStateFrom" in req:
        return p.unpickle_proof_state(req["unpickleProofStateFrom"], env=req.get("env"))
    flags = {"all_tactics": req.get("allTactics", False), "infotree": req.get("infotree")}
    if "path" in req:
        return p.file(req["path"], env=req.get("env"), **flags)
    return p.command(req["cmd"], req.get("env"), root_goals=req.get("rootGoals", False), **flags)


def start(transcript: Path) -> ReplProcess:
    cfg = LeanConfig(timeout=5.0, memory_limit_mb=None, max_rss_mb=None)
    p = ReplProcess(cfg, command=[sys.executable, str(DOUBLE), "--transcript", str(transcript)])
    p.start()
    return p


def test_fixtures_present() -> None:
    assert len(TRANSCRIPTS) >= 50


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_transcript_classification(transcript: Path) -> None:
    pairs = read_transcript(transcript)
    assert pairs and all(a is not None for _, a in pairs)
    with start(transcript) as p:
        raw: list[dict] = []
        send = p.request

        def spy(req: dict, timeout: float | None = None) -> dict:
            raw.append(send(req, timeout))
            return raw[-1]

        p.request = spy  # type: ignore[method-assign]
        for req, answer in pairs:
            got = via_methods(p, req)  # through the typed methods, as the rest of the prover does
            want = classify(req, answer)
            assert type(got) is type(want) and got == want and repr(got) == repr(want), req
            assert raw[-1] == answer  # the transport returns exactly the recorded JSON
        assert p.generation == 1 and len(raw) == len(pairs)
