"""The scoring model of the export's perplexity filter: mean negative log-likelihood of each completion given
its prompt, under a causal or encoder-decoder model (loaded like the ``hf`` generator loads it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class PerplexityScorer:
    """``scorer(prompts, completions)`` → per-row mean NLL (nats per completion token, EOS included)."""

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int = 16, max_length: int = 4096) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
        self.device = next(model.parameters()).device
        if tokenizer.pad_token_id is None and tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token

    @classmethod
    def load(cls, name: str, *, device: str = "auto", batch_size: int = 16) -> PerplexityScorer:
        from prover.models.hf import load_hf

        model, tokenizer, _ = load_hf(name, kind="generator", device=device, dtype="auto")
        return cls(model, tokenizer, batch_size=batch_size)

    def __call__(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        out: list[float] = []
        for i in range(0, len(prompts), self.batch_size):
            out.extend(self._batch(prompts[i : i + self.batch_size], completions[i : i + self.batch_size]))
        return out

    def _target_ids(self, completion: str) -> list[int]:
        ids = self.tokenizer(completion, add_special_tokens=False)["input_ids"]
        eos = self.tokenizer.eos_token_id
        return [*ids, eos] if eos is not None else ids

    def _batch(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        import torch

        pad = self.tokenizer.pad_token_id or 0
        if self.encoder_decoder:
            enc = self.tokenizer(
                list(prompts), return_tensors="pt", padding=True, truncation=True, max_length=self.max_length
            ).to(self.device)
            targets = [self._target_ids(c) for c in completions]
            width = max(len(t) for t in targets)
            labels = torch.full((len(targets), width), -100, dtype=torch.long)
            for j, t in enumerate(targets):
                labels[j, : len(t)] = torch.tensor(t)
            labels = labels.to(self.device)
            with torch.inference_mode():
                logits = self.model(**enc, labels=labels).logits.float()
        else:
            seqs, masks = [], []
            for p, c in zip(prompts, completions, strict=True):
                p_ids = self.tokenizer(p)["input_ids"]
                c_ids = self._target_ids(c)
                ids = (p_ids + c_ids)[-self.max_length :]
                n_c = min(len(c_ids), len(ids) - 1)
                seqs.append(ids)
                masks.append([0] * (len(ids) - n_c) + [1] * n_c)
            width = max(len(s) for s in seqs)
            input_ids = torch.full((len(seqs), width), pad, dtype=torch.long)
            attention = torch.zeros((len(seqs), width), dtype=torch.long)
            labels = torch.full((len(seqs), width), -100, dtype=torch.long)
            for j, (s, m) in enumerate(zip(seqs, masks, strict=True)):
                input_ids[j, : len(s)] = torch.tensor(s)
                attention[j, : len(s)] = 1
                labels[j, : len(s)] = torch.where(torch.tensor(m) == 1, torch.tensor(s), torch.tensor(-100))
            with torch.inference_mode():
                ids, att = input_ids.to(self.device), attention.to(self.device)
                logits = self.model(input_ids=ids, attention_mask=att).logits
            logits, labels = logits[:, :-1].float(), labels[:, 1:].to(self.device)
        logp = torch.log_softmax(logits, dim=-1)
        valid = labels != -100
        tok = torch.gather(logp, 2, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * valid
        return (-(tok.sum(1)) / valid.sum(1).clamp(min=1)).tolist()
