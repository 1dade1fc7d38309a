"""Training the models the prover uses, with the libraries' trainers (trl, transformers, peft, accelerate).

* `config`: the ``[train]`` config section;
* `sources`: inputs of `prover data export` (batch run directories, graphs, LeanDojo data, step files);
* `perplexity`: the scoring model of the export's perplexity filter.
"""
