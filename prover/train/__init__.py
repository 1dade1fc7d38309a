"""Training the models the prover uses, with the libraries' trainers (trl, transformers, peft, accelerate).

* `config`: the ``[train]`` config section;
* `sources`: the inputs of `prover data export` (batch run directories, graphs, LeanDojo data, step files);
* `common`: data, model loading, training arguments, progress, resume, the final checkpoint;
* `sft`, `dpo`, `critic`: the trainers; `iterate`: expert iteration (batch → export → train, per round);
* `perplexity`: the scoring model of the export's perplexity filter.
"""
