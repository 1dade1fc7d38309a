/-
Root of the `ProverStrict` library. Strict mode (`lean.verify = "strict"`, `prover check --strict`) writes
`ProverStrict/J<hash>/Challenge.lean` and `Solution.lean` here for the comparator to build, and removes them
after each check (see prover/lean/strict.py). Nothing to build in this file.
-/
