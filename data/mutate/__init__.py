"""The mutation pipeline (Alchemy, arXiv 2410.15748): new verified theorems from a library's theorems.

`candidates` reads a source tree, `prefilter` / `premises` pick the premises worth trying, `places` opens a
theorem where it was written, `statement` builds mutated statements and their proofs, `pipeline` runs one file
in one REPL process, `store` / `runner` / `output` make it a resumable run (``prover data mutate``), and
`evaluate` measures the prefilter on a real library without Lean.
"""
