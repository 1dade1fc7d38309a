"""``python -m prover ...`` = the ``prover`` command (what ``torchrun`` / ``accelerate launch -m prover`` run)."""

from prover.cli import entry

if __name__ == "__main__":
    entry()
