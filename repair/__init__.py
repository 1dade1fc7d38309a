"""Compiler-guided repair of whole proofs (the APOLLO loop), built from pure steps on text and Lean's
messages so each is testable without Lean:

* `repair.refine`: the syntax refiner (one small rule per common model mistake);
* `repair.tree`: the proof-structure tree (declarations, tactic blocks, items) that the other steps edit;
* `repair.edits`: edit primitives on that tree (shared with sketch masking);
* `repair.sorrify`: ``(text, messages) -> text``: every failing part becomes ``sorry`` or is removed;
* `repair.messages`: classifying Lean's messages; Lean's ``file:line:col`` diagnostics;
* `repair.mask` / `repair.sketch`: the sketch mode (DSP+): placeholders, masking, draft → sketch → prove.
"""
