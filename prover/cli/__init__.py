"""The `prover` command line: parses arguments, wires components, prints. No logic of its own.

Each subcommand lives in its own module with ``register(subparsers)``; the parser stores the handler
in ``args.func``, which returns the exit code (0 success, 1 "not proved"/"not sound", 2 error).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys

from prover.errors import UserError
from prover.lean.types import LeanException

# The project's packages: their loggers follow -v (other libraries' stay at WARNING).
OUR_PACKAGES = ("prover", "search", "retrieval", "repair", "data")
# Modules under prover/cli/ that define subcommands, in --help order.
SUBCOMMANDS: list[str] = ["doctor", "check", "prove", "repair", "batch", "index", "train"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prover", description="Neural theorem prover for Lean 4.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"prover.cli.{name}").register(sub)
    _accept_verbose(sub)
    return parser


def _accept_verbose(sub: argparse._SubParsersAction) -> None:
    """``-v`` after the command too (``prover check F.lean -v``), in every subcommand and action."""
    for p in set(sub.choices.values()):
        p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more logging (-vv: debug)")
        for a in p._actions:  # the actions of `data`, `index`, `train`
            if isinstance(a, argparse._SubParsersAction):
                _accept_verbose(a)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if _interrupted:  # a signal during the imports that some library's broad `except` swallowed
        raise KeyboardInterrupt
    args = parser.parse_args(argv)
    # -v: the project's INFO (details of each Lean crash, retries, ...), -vv: its DEBUG; other libraries stay
    # at WARNING (their DEBUG buried ours).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    level = logging.WARNING - 10 * min(args.verbose, 2)
    for package in OUR_PACKAGES:
        logging.getLogger(package).setLevel(level)
    command = _command_name(args)
    try:
        code = int(args.func(args))
        if _interrupted and code != 130:  # swallowed on the way (a lazy import, a library): a stop, not a result
            raise KeyboardInterrupt
        return code
    except UserError as e:  # one prefix for every error: "prover COMMAND: error: ..."
        print(f"prover {command}: error: {e}", file=sys.stderr)
        return 2
    except LeanException as e:
        print(f"prover {command}: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"prover {command}: interrupted", file=sys.stderr)
        return 130


# The namespace keys of the subcommands that have actions (`prover data export`, `prover train sft`, ...).
_ACTION_DESTS = ("data_command", "index_command", "train_command")


def _command_name(args: argparse.Namespace) -> str:
    """The command as typed, with its action (``data export``), as argparse's own errors name it."""
    action = next((vars(args)[d] for d in _ACTION_DESTS if vars(args).get(d)), None)
    return f"{args.command} {action}" if action else args.command


_interrupted = False


def _terminate(signum: int, frame: object) -> None:
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def entry() -> None:
    """The ``prover`` console script. SIGTERM (``kill``, Slurm's preemption and ``scancel``) stops it like
    Ctrl-C, from the first moment on: finished results are kept, children are stopped, one line is printed,
    exit status 130 — also while the subcommands are still being imported."""
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)  # as Python's own handler, but remembered (see `main`)
    try:
        code = main()
    except KeyboardInterrupt:  # before a subcommand started (argument parsing, imports)
        print("prover: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)
