"""Hugging Face backends on tiny randomly initialised models built here (ByT5-style T5, byte-level GPT-2).

They exercise the real generation path: tokenisation, beam search and sampling, log-probs (from the kept logits
and by rescoring, which must agree), EOS handling, batching, filters, prompt formats, loading from a folder
through `build_generator` / `build_critic`, and the load timeout.
"""

from __future__ import annotations

import math
import time

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from prover.models import (  # noqa: E402
    CriticConfig,
    GenerationError,
    GeneratorConfig,
    ModelLoadError,
    StepContext,
    TacticFilter,
    build_critic,
    build_generator,
)
from prover.models.hf import HFCritic, HFGenerator  # noqa: E402
from prover.models.loading import call_with_timeout  # noqa: E402
from retrieval.base import Premise  # noqa: E402

STATES = ["n : ℕ\n⊢ n + 0 = n", "⊢ True", "a b : ℝ\nh : a < b\n⊢ a ≤ b"]
EOS = 256


def tiny_t5(ends: bool = True):
    """A random ByT5-style T5. With ``ends``, its generation config pushes EOS up with length (transformers'
    ``exponential_decay_length_penalty``, saved with the model), so that outputs end at different lengths
    (candidates that never end are dropped); log-probs stay the raw model's."""
    from transformers import ByT5Tokenizer, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    cfg = T5Config(
        vocab_size=384,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
        tie_word_embeddings=False,
    )
    model = T5ForConditionalGeneration(cfg).eval()
    with torch.no_grad():  # favour printable ASCII, so that tactics are not empty / whitespace only
        model.lm_head.weight.normal_(0, 0.2)
        model.lm_head.weight[3 + 33 : 3 + 127] *= 2.5
    if ends:
        model.generation_config.exponential_decay_length_penalty = (3, 1.6)
    return model, ByT5Tokenizer()


def byte_tokenizer(specials=("<|im_end|>",)):
    """A GPT-2-style byte-level BPE tokenizer with no merges (every byte one token) and ``<|endoftext|>``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    vocab["<|endoftext|>"] = EOS
    for i, s in enumerate(specials):
        vocab[s] = EOS + 1 + i
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", additional_special_tokens=list(specials)
    )


def tiny_gpt2(eos_bias: float = 0.0, seed: int = 0):
    """A random GPT-2; ``eos_bias`` > 0 makes EOS likely so that sequences end at different lengths."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(
        vocab_size=EOS + 2, n_positions=512, n_embd=32, n_layer=2, n_head=4, bos_token_id=EOS, eos_token_id=EOS
    )
    model = GPT2LMHeadModel(cfg).eval()
    if eos_bias:
        with torch.no_grad():
            # final hidden states get a constant component along which only the EOS embedding points
            direction = torch.zeros(cfg.n_embd)
            direction[0] = 1.0
            model.transformer.ln_f.bias.copy_(direction * 3.0)
            model.transformer.wte.weight[:, 0] = 0.0
            model.transformer.wte.weight[EOS, 0] = eos_bias
    return model, byte_tokenizer()


def no_filter() -> TacticFilter:
    return TacticFilter(banned=[], allow_native_decide=True)


def check_logprobs(cands):
    for c in cands:
        assert c.num_tokens > 0
        assert c.logprob <= 0.0 and math.isfinite(c.logprob)
        assert c.mean_logprob == pytest.approx(c.logprob / c.num_tokens)


@pytest.mark.parametrize("decoding", ["beam", "sample"])
def test_t5_reprover_generation(decoding):
    model, tok = tiny_t5()
    gen = HFGenerator(
        model, tok, prompt_format="reprover", decoding=decoding, max_new_tokens=16, tactic_filter=no_filter()
    )
    out = gen.generate(STATES, None, 4)
    assert len(out) == 3
    for cands in out:
        assert 1 <= len(cands) <= 4
        check_logprobs(cands)
        assert all(c.num_tokens <= 16 for c in cands)
        assert [c.logprob for c in cands] == sorted((c.logprob for c in cands), reverse=True)  # reprover: by sum
        assert len({" ".join(c.tactic.split()) for c in cands}) == len(cands)


def test_t5_beam_logprob_matches_transformers_beam_score():
    """With length_penalty 0, a beam's score in transformers is the sum of its token log-probs."""
    model, tok = tiny_t5(ends=False)
    gen = HFGenerator(model, tok, prompt_format="plain", decoding="beam", max_new_tokens=8, tactic_filter=no_filter())
    cands = [c for c in gen.complete([STATES[0]], 3)[0]]
    assert len(cands) == 3 and not any(c.finished for c in cands)  # no EOS in 8 steps: all would be dropped
    enc = tok([STATES[0]], return_tensors="pt")
    ref = model.generate(
        **enc,
        num_beams=3,
        num_return_sequences=3,
        max_new_tokens=8,
        length_penalty=0.0,
        early_stopping=False,
        do_sample=False,
        output_scores=True,
        return_dict_in_generate=True,
    )
    texts = tok.batch_decode(ref.sequences, skip_special_tokens=True)
    by_text = {t.strip(): float(s) for t, s in zip(texts, ref.sequences_scores, strict=True)}
    for c in cands:
        assert c.logprob == pytest.approx(by_text[c.text.strip()], abs=1e-4)
    assert gen.generate([STATES[0]], None, 3) == [[]]


@pytest.mark.parametrize("decoding", ["beam", "sample"])
def test_kept_logits_and_rescoring_agree(decoding):
    for model, tok, fmt in [(*tiny_t5(), "reprover"), (*tiny_gpt2(eos_bias=1.3), "bfs")]:
        results = []
        for mode in ("logits", "rescore"):
            torch.manual_seed(123)
            gen = HFGenerator(
                model,
                tok,
                prompt_format=fmt,
                decoding=decoding,
                max_new_tokens=12,
                score_mode=mode,
                tactic_filter=no_filter(),
            )
            results.append(gen.generate(STATES, None, 4))
        for a, b in zip(*results, strict=True):
            assert [c.tactic for c in a] == [c.tactic for c in b]
            assert [c.num_tokens for c in a] == [c.num_tokens for c in b]
            for x, y in zip(a, b, strict=True):
                assert x.logprob == pytest.approx(y.logprob, abs=1e-3)


def test_gpt2_sampling_stops_at_eos_and_counts_it():
    model, tok = tiny_gpt2(eos_bias=1.3)
    gen = HFGenerator(model, tok, prompt_format="bfs", decoding="sample", max_new_tokens=24, tactic_filter=no_filter())
    torch.manual_seed(0)
    out = gen.generate(STATES, None, 8)
    lengths = {c.num_tokens for cands in out for c in cands}
    assert min(lengths) < 24  # some samples ended with EOS ...
    assert len(lengths) > 1  # ... at different lengths within one batch
    for cands in out:
        check_logprobs(cands)
        assert all("<|endoftext|>" not in c.tactic for c in cands)
        assert [c.mean_logprob for c in cands] == sorted((c.mean_logprob for c in cands), reverse=True)  # bfs: mean


def test_gpt2_eos_logprob_is_part_of_the_sum():
    """A candidate that ended with EOS: its sum is the teacher-forced log-prob of its bytes plus EOS."""
    model, tok = tiny_gpt2(eos_bias=1.3)
    gen = HFGenerator(model, tok, prompt_format="bfs", decoding="beam", max_new_tokens=24, tactic_filter=no_filter())
    cands = gen.generate([STATES[1]], None, 4)[0]
    ended = [c for c in cands if c.num_tokens < 24]
    assert ended
    c = ended[0]
    prompt = tok(STATES[1] + ":::")["input_ids"]
    body = tok(c.tactic)["input_ids"]
    # a stripped tactic may have lost surrounding spaces; only check when the text round-trips
    if len(body) + 1 == c.num_tokens:
        ids = torch.tensor([prompt + body + [EOS]])
        with torch.no_grad():
            lp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
        ref = sum(float(lp[i - 1, ids[0, i]]) for i in range(len(prompt), ids.shape[1]))
        assert c.logprob == pytest.approx(ref, abs=1e-3)


@pytest.mark.parametrize("which", ["t5", "gpt2"])
def test_batching_gives_the_same_beams_as_one_by_one(which):
    model, tok = tiny_t5() if which == "t5" else tiny_gpt2(eos_bias=1.3)
    fmt = "reprover" if which == "t5" else "bfs"
    gen = HFGenerator(
        model, tok, prompt_format=fmt, decoding="beam", max_new_tokens=10, batch_size=2, tactic_filter=no_filter()
    )
    batched = gen.generate(STATES, None, 3)
    single = [gen.generate([s], None, 3)[0] for s in STATES]
    for a, b in zip(batched, single, strict=True):
        assert [c.tactic for c in a] == [c.tactic for c in b]
        for x, y in zip(a, b, strict=True):
            assert x.logprob == pytest.approx(y.logprob, abs=1e-3)


def test_filters_apply_to_model_output():
    model, tok = tiny_t5()
    raw = HFGenerator(model, tok, prompt_format="plain", decoding="beam", max_new_tokens=6, tactic_filter=no_filter())
    cands = raw.generate([STATES[0]], None, 4)[0]
    banned = cands[0].tactic.strip()
    filt = HFGenerator(
        model, tok, prompt_format="plain", decoding="beam", max_new_tokens=6, tactic_filter=TacticFilter([banned])
    )
    assert all(banned not in c.tactic for c in filt.generate([STATES[0]], None, 4)[0])


def test_prompt_formats_reach_the_model():
    model, tok = tiny_gpt2(eos_bias=1.3)
    gen = HFGenerator(
        model, tok, prompt_format="internlm25", decoding="sample", max_new_tokens=24, tactic_filter=no_filter()
    )
    ctx = [StepContext("thm", ("intro x",))]
    assert gen.prompts(["⊢ p"], None, ctx)[0].startswith(
        "<|im_start|>user\n---\nNAME: thm\n\n---\nPROOF_BEFORE: intro x"
    )
    assert len(gen.generate(["⊢ p"], None, 3, contexts=ctx)[0]) >= 1  # with the <|im_end|> stop string
    t5, btok = tiny_t5()
    rep = HFGenerator(t5, btok, prompt_format="reprover", max_input_tokens=100, max_new_tokens=4)
    prem = [Premise("Nat.add_zero", "theorem Nat.add_zero (n : ℕ) : n + 0 = n")]
    assert rep.prompts([STATES[0]], [prem])[0] == ("theorem <a>Nat.add_zero</a> (n : ℕ) : n + 0 = n\n\n" + STATES[0])
    assert rep.generate([STATES[0]], [prem], 2)
    assert rep.prompts(["x" * 80], [prem])[0] == "x" * 80  # premises dropped when the state fills the budget


def test_greedy_when_temperature_zero_and_edge_counts():
    model, tok = tiny_t5()
    gen = HFGenerator(model, tok, decoding="sample", temperature=0.0, max_new_tokens=16, tactic_filter=no_filter())
    assert len(gen.generate([STATES[0]], None, 4)[0]) == 1
    assert gen.generate([], None, 4) == []
    assert gen.generate(STATES, None, 0) == [[], [], []]


# ---------------------------------------------------------------------------------------------------------
# Loading through the factories


@pytest.fixture(scope="module")
def t5_folder(tmp_path_factory):
    model, tok = tiny_t5()
    d = tmp_path_factory.mktemp("tiny-byt5")
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory):
    model, tok = tiny_gpt2(eos_bias=1.3)
    d = tmp_path_factory.mktemp("tiny-gpt2")
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


def test_build_generator_loads_a_local_seq2seq_folder(t5_folder, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gen = build_generator(
        GeneratorConfig(model=str(t5_folder), device="cpu", prompt_format="reprover", max_new_tokens=8)
    )
    assert isinstance(gen, HFGenerator) and gen.encoder_decoder and gen.rank_by == "sum"
    out = gen.generate(STATES[:2], None, 3)
    assert len(out) == 2 and all(out)


def test_build_generator_loads_a_local_causal_folder_with_automation(gpt2_folder):
    cfg = GeneratorConfig(
        backend="hf+automation",
        model=str(gpt2_folder),
        device="cpu",
        prompt_format="bfs",
        decoding="sample",
        max_new_tokens=8,
        automation=["omega", "simp"],
        banned=[],
    )
    gen = build_generator(cfg)
    out = gen.generate(STATES[:2], None, 3)
    assert [c.tactic for c in out[0][-2:]] == ["omega", "simp"]
    assert 3 <= len(out[0]) <= 5


def test_missing_folder_and_bad_model_are_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.monotonic()
    with pytest.raises(ModelLoadError) as e:
        build_generator(GeneratorConfig(model="someone/not-downloaded", device="cpu"))
    assert time.monotonic() - t0 < 30
    assert "HF_HUB_OFFLINE" in str(e.value) and "\n" not in str(e.value)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="cannot load tactic generator"):
        build_generator(GeneratorConfig(model=str(tmp_path), device="cpu"))


def test_load_timeout_never_blocks_forever():
    t0 = time.monotonic()
    with pytest.raises(ModelLoadError, match="longer than 0s"):
        call_with_timeout(lambda: time.sleep(5), 0.2, "slow model")
    assert time.monotonic() - t0 < 2
    assert call_with_timeout(lambda: 42, 5, "fast model") == 42
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 5, "broken model")


def test_cuda_requested_without_gpu_is_clear():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ModelLoadError, match="no CUDA GPU"):
        build_generator(GeneratorConfig(model="x", device="cuda"))


# ---------------------------------------------------------------------------------------------------------
# Critic


def tiny_critic(num_labels: int = 1):
    from transformers import GPT2Config, GPT2ForSequenceClassification

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=EOS + 2, n_positions=512, n_embd=32, n_layer=2, n_head=4, num_labels=num_labels)
    return GPT2ForSequenceClassification(cfg).eval(), byte_tokenizer()


def test_critic_scores_batched_like_one_by_one_and_negates():
    model, tok = tiny_critic()
    critic = HFCritic(model, tok, batch_size=2)
    scores = critic.score(STATES)
    assert len(scores) == 3 and all(isinstance(s, float) for s in scores)
    single = [critic.score([s])[0] for s in STATES]
    assert scores == pytest.approx(single, abs=1e-4)
    neg = HFCritic(model, tok, batch_size=3, negate=True).score(STATES)
    assert neg == pytest.approx([-s for s in scores], abs=1e-4)
    assert critic.score([]) == []


def test_critic_classifier_gives_probabilities():
    model, tok = tiny_critic(num_labels=2)
    scores = HFCritic(model, tok, prompt_template="STATE: {state}").score(STATES)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_build_critic_from_folder(tmp_path):
    model, tok = tiny_critic()
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    critic = build_critic(GeneratorConfig(critic=CriticConfig(backend="hf", model=str(tmp_path), device="cpu")))
    assert isinstance(critic, HFCritic)
    assert critic.score(STATES[:1]) == pytest.approx(HFCritic(model, tok).score(STATES[:1]), abs=1e-4)


def test_seeded_sampling_does_not_depend_on_what_else_is_in_the_call():
    """A state's samples depend on its own context seed only (batch workers merge the calls of several
    attempts into one), so an attempt is reproducible with any number of workers."""
    model, tok = tiny_t5()
    gen = HFGenerator(model, tok, decoding="sample", max_new_tokens=16, tactic_filter=no_filter())
    alone = gen.generate(STATES[:1], None, 4, contexts=[StepContext(seed=7)])
    torch.manual_seed(123)  # another thread used the global RNG meanwhile
    merged = gen.generate(
        [STATES[1], STATES[0]], None, 4, contexts=[StepContext(seed=99), StepContext(seed=7)]
    )
    assert merged[1] == alone[0] and alone[0]
    other_seed = gen.generate(STATES[:1], None, 4, contexts=[StepContext(seed=8)])
    assert other_seed[0] != alone[0]


def test_out_of_memory_halves_the_batch_then_fails_clearly(monkeypatch):
    model, tok = tiny_t5()
    gen = HFGenerator(model, tok, max_new_tokens=16, batch_size=8, tactic_filter=no_filter())
    real = gen._generate_batch
    sizes = []

    def fake(prompts, n, special=True):
        sizes.append(len(prompts))
        if len(prompts) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(prompts, n, special)

    monkeypatch.setattr(gen, "_generate_batch", fake)
    out = gen.generate(STATES, None, 2)
    assert len(out) == 3 and all(out) and sizes[0] == 3 and sizes.count(1) == 3

    def always(prompts, n, special=True):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(gen, "_generate_batch", always)
    with pytest.raises(GenerationError, match="out of memory generating 2 tactics"):
        gen.generate(STATES[:1], None, 2)


def test_load_errors_are_explained_in_one_line():
    from prover.models.loading import explain_load_error

    # InternLM2.5's remote code imports a module transformers removed in 5.10: not a "missing package"
    gone = ModuleNotFoundError(
        "No module named 'transformers.modeling_attn_mask_utils'", name="transformers.modeling_attn_mask_utils"
    )
    e = explain_load_error(gone, "tactic generator", "internlm/internlm2_5-step-prover")
    assert "trust_remote_code" in str(e) and "vLLM" in str(e) and "missing Python package" not in str(e)
    name = ImportError("cannot import name 'LlamaFlashAttention2' from 'transformers.models.llama.modeling_llama'")
    assert "older transformers" in str(explain_load_error(name, "critic", "x"))
    assert "missing Python package: No module named 'einops'" in str(
        explain_load_error(ModuleNotFoundError("No module named 'einops'", name="einops"), "critic", "x")
    )

    e = explain_load_error(torch.OutOfMemoryError("CUDA out of memory.\nmore"), "tactic generator", "big/model", "cuda")
    assert str(e).startswith("out of memory loading tactic generator 'big/model' on cuda") and "\n" not in str(e)
    e = explain_load_error(OSError("x is not a local folder and is not a valid model identifier\nmore"), "critic", "x")
    assert str(e) == "cannot load critic 'x': OSError: x is not a local folder and is not a valid model identifier"


def test_a_special_token_stop_string_ends_the_tactic():
    """InternLM answers end with <|im_end|>, a special token: the candidate is finished there (not dropped as
    cut by the token limit) and nothing after it is kept."""
    model, tok = tiny_gpt2()
    with torch.no_grad():  # make <|im_end|> (id EOS + 1) likely, the way tiny_gpt2 makes EOS likely
        direction = torch.zeros(model.config.n_embd)
        direction[0] = 1.0
        model.transformer.ln_f.bias.copy_(direction * 3.0)
        model.transformer.wte.weight[:, 0] = 0.0
        model.transformer.wte.weight[EOS + 1, 0] = 1.3
    for decoding in ("sample", "beam"):
        gen = HFGenerator(
            model, tok, prompt_format="internlm25", decoding=decoding, max_new_tokens=24, tactic_filter=no_filter()
        )
        raw = gen.complete(gen.prompts(["⊢ p"]), 4)[0]
        ended = [c for c in raw if c.finished]
        assert ended and all("<|im_end|>" not in c.text for c in raw)
        assert len(gen.generate(["⊢ p"], None, 4)[0]) >= 1


class TinyRewardModel(torch.nn.Module):
    """Shaped like InternLM2ForRewardModel as reward-bench calls it: ``forward(input_ids, attention_mask)``
    returns a tuple whose first item holds one score per sequence, read at its last attended token."""

    def __init__(self, vocab: int, reward_token_id: int):
        super().__init__()
        from types import SimpleNamespace

        torch.manual_seed(0)
        self.config = SimpleNamespace(reward_token_id=reward_token_id, pad_token_id=None)
        self.emb = torch.nn.Embedding(vocab, 16)
        self.mix = torch.nn.GRU(16, 16, batch_first=True)
        self.v_head = torch.nn.Linear(16, 1)

    def forward(self, input_ids, attention_mask):
        hidden, _ = self.mix(self.emb(input_ids))
        scores = self.v_head(hidden).squeeze(-1)
        ends = attention_mask.long().sum(1, keepdim=True) - 1
        return (torch.gather(scores, 1, ends),)


CHAT = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_reward_model_critic_scores_like_its_model_card():
    tok = byte_tokenizer(specials=("<|im_end|>", "<|reward|>"))
    tok.chat_template = CHAT
    rid = tok.convert_tokens_to_ids("<|reward|>")
    model = TinyRewardModel(EOS + 3, rid).eval()
    critic = HFCritic(model, tok, kind="reward", batch_size=2)
    ids = critic.reward_input("x : ℕ\n⊢ x = x")
    text = tok.decode(ids)
    # internlm2_5-step-prover-critic card: user asks which state is closer to 'no goals', the state answers
    assert text == (
        "<|im_start|>user\nWhich state is closer to 'no goals'?<|im_end|>\n"
        "<|im_start|>assistant\nx : ℕ\n⊢ x = x<|im_end|>\n<|reward|>"
    )
    states = ["no goals", "x : ℕ\nh₀ : ↑x + 4 / 100 * ↑x = 598\n⊢ 100 * x = 100 * 575", "⊢ True"]
    batched = critic.score(states)
    alone = [critic.score([s])[0] for s in states]
    assert batched == pytest.approx(alone, abs=1e-5)  # right padding does not move the score
    with torch.no_grad():
        ref = float(model(torch.tensor([ids]), torch.ones(1, len(ids)))[0][0, 0])
    assert critic.score(["x : ℕ\n⊢ x = x"])[0] == pytest.approx(ref, abs=1e-6)
    assert HFCritic(model, tok, kind="reward", negate=True).score(states[:1])[0] == pytest.approx(-alone[0])


def test_critic_kind_from_the_checkpoint_config():
    from types import SimpleNamespace

    from prover.models.hf import critic_kind

    assert critic_kind(SimpleNamespace(architectures=["InternLM2ForRewardModel"])) == "reward"
    assert critic_kind(SimpleNamespace(architectures=["BertForSequenceClassification"])) == "classifier"
    assert CriticConfig(backend="hf", model="internlm/internlm2_5-step-prover-critic").trust_remote_code
    with pytest.raises(ModelLoadError, match="reward_token_id"):
        HFCritic(_no_reward(), byte_tokenizer(), kind="reward")


def _no_reward():
    from types import SimpleNamespace

    m = TinyRewardModel(10, 1)
    m.config = SimpleNamespace(pad_token_id=None)
    return m
