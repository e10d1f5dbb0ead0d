"""LanguageModel: finite-difference gradients, truncated BPTT, sampling, learning on text, save/load."""
from pathlib import Path

import numpy as np
import pytest

from rnnlab import nn
from rnnlab.data.text import CharVocab
from rnnlab.errors import RnnlabError
from rnnlab.models import load, save
from rnnlab.models.language import LanguageModel, LMBatch, StreamBatches
from rnnlab.nn.gradcheck import numerical_grad_sampled, rel_error, sample_indices

SHAKESPEARE = Path("/work/shared/data/tinyshakespeare.txt")
PANGRAM = "the quick brown fox jumps over the lazy dog. "


def _tiny(cell="lstm", num_layers=2, seed=1):
    return LanguageModel(7, embedding_dim=4, hidden_size=5, num_layers=num_layers, cell=cell,
                         dtype="float64", seed=seed)


def _unigram_entropy(ids: np.ndarray) -> float:
    """Entropy (nats) of the training text's character frequencies: the best context-free model."""
    p = np.bincount(ids) / len(ids)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _train(model, ids, epochs, batch_size, bptt, lr, seed=0):
    opt, rng = nn.Adam(lr), np.random.default_rng(seed)
    for _ in range(epochs):
        model.train()
        for batch in model.batches(ids, batch_size, bptt)(rng):
            model.train_step_loss(batch)
            nn.clip_grad_norm(model.grads, 5.0)
            opt.step(model.params, model.grads)
    return model.eval()


# -- gradients and truncated BPTT -------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_loss_gradients_match_finite_differences(cell):
    rng = np.random.default_rng(0)
    model = _tiny(cell)
    for p in model.params.values():
        p *= 2.0  # larger gradients, well above the finite-difference noise
    x = rng.integers(0, 7, (3, 6))
    batch = LMBatch(x, rng.integers(0, 7, (3, 6)), reset=True)  # reset: every call starts from zero
    model.train_step_loss(batch)
    analytic = {k: g.copy() for k, g in model.grads.items()}
    for name, p in model.params.items():
        idx = sample_indices(p.size, 10, rng)
        num = numerical_grad_sampled(lambda: model.loss(batch), p, idx)
        assert rel_error(analytic[name].reshape(-1)[idx], num) < 1e-6, name


def test_two_chunks_with_carried_state_equal_one_long_forward():
    x = np.random.default_rng(1).integers(0, 7, (2, 11))
    model = _tiny()
    model.reset_states()
    full = model.logits(x)
    model.reset_states()
    parts = np.concatenate([model.logits(x[:, :4]), model.logits(x[:, 4:])], axis=1)
    np.testing.assert_allclose(parts, full, rtol=0, atol=1e-12)


def test_stream_batches_cut_parallel_streams_into_chunks():
    tokens = np.arange(23)
    batches = list(StreamBatches(tokens, batch_size=2, bptt=4)())  # streams 0..10 and 11..21
    assert [b.reset for b in batches] == [True, False, False]
    np.testing.assert_array_equal(np.concatenate([b.x for b in batches], 1), [np.arange(10), np.arange(11, 21)])
    np.testing.assert_array_equal(np.concatenate([b.y for b in batches], 1), [np.arange(1, 11), np.arange(12, 22)])
    offset = next(StreamBatches(tokens, 2, 4)(np.random.default_rng(3))).x[0, 0]
    assert 0 <= offset < 4


def test_training_chunks_equal_one_long_forward_and_reset_at_each_pass():
    rng = np.random.default_rng(2)
    model = _tiny()
    tokens = rng.integers(0, 7, 41)
    stream = StreamBatches(tokens, batch_size=2, bptt=6, random_offset=False)
    for _ in range(2):  # the second pass must not start from the first pass's final state
        losses = [model.loss(b) * b.y.size for b in stream()]
        full = LMBatch(tokens[:40].reshape(2, 20)[:, :-1], tokens[:40].reshape(2, 20)[:, 1:], reset=True)
        assert sum(losses) == pytest.approx(model.loss(full) * full.y.size, rel=1e-12)


# -- sampling ---------------------------------------------------------------------------------------
def _argmax_reference(model, prime, n):
    """Greedy continuation recomputed from scratch at every step (no carried state)."""
    seq = list(prime)
    for _ in range(n):
        model.reset_states()
        seq.append(int(model.logits(np.array([seq]))[0, -1].argmax()))
    model.reset_states()
    return seq[len(prime):]


def test_temperature_to_zero_and_top_k_one_are_argmax_decoding():
    model = _tiny(seed=3)
    prime = np.array([1, 4, 2])
    greedy = _argmax_reference(model, prime, 12)
    assert model.sample(12, prime=prime, temperature=0).tolist() == greedy
    assert model.sample(12, prime=prime, temperature=1e-6, rng=5).tolist() == greedy
    assert model.sample(12, prime=prime, top_k=1, rng=6).tolist() == greedy


def test_same_rng_seed_reproduces_a_sample():
    model = _tiny()
    a = model.sample(30, prime=[1, 2], temperature=1.0, rng=7)
    assert model.sample(30, prime=[1, 2], temperature=1.0, rng=np.random.default_rng(7)).tolist() == a.tolist()
    assert model.sample(30, prime=[1, 2], temperature=1.0, rng=8).tolist() != a.tolist()
    assert model.sample(30, rng=7).tolist() == model.sample(30, rng=7).tolist()  # no prime: seeded start


def test_top_k_draws_only_among_the_k_most_probable():
    model = _tiny()
    prime = [3]
    model.reset_states()
    allowed = set(np.argsort(model.logits(np.array([prime]))[0, -1])[-2:].tolist())
    firsts = {int(model.sample(1, prime=prime, top_k=2, rng=s)[0]) for s in range(40)}
    assert firsts <= allowed and len(firsts) == 2


# -- behaviour --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_learns_a_repeated_pangram_well_below_its_unigram_entropy():
    vocab = CharVocab.fit(PANGRAM)
    train, valid = vocab.encode(PANGRAM * 40), vocab.encode(PANGRAM * 4)
    model = _train(LanguageModel.from_vocab(vocab, embedding_dim=16, hidden_size=48, seed=0),
                   train, epochs=8, batch_size=8, bptt=32, lr=0.01)
    # the text is deterministic given a few characters of context; unigram entropy ≈ 3.0 nats
    assert _unigram_entropy(train) > 3.0 and model.evaluate(valid, batch_size=1) < 0.1  # observed ≈ 0.02


@pytest.mark.slow
@pytest.mark.skipif(not SHAKESPEARE.exists(), reason=f"{SHAKESPEARE} is not available")
def test_learns_shakespeare_below_unigram_entropy():
    text = SHAKESPEARE.read_text()[:20000]
    vocab = CharVocab.fit(text[:18000])
    train, valid = vocab.encode(text[:18000]), vocab.encode(text[18000:])
    model = _train(LanguageModel.from_vocab(vocab, embedding_dim=32, hidden_size=128, seed=0),
                   train, epochs=3, batch_size=32, bptt=32, lr=0.01)
    # unigram entropy ≈ 3.27 nats/char; three epochs (about a second) reach ≈ 2.1
    assert model.evaluate(valid) < _unigram_entropy(train) - 0.8


def test_save_load_round_trip_keeps_vocab_and_samples(tmp_path):
    vocab = CharVocab.fit(PANGRAM)
    model = LanguageModel.from_vocab(vocab, hidden_size=8, seed=2)
    save(model, tmp_path / "lm")
    loaded = load(tmp_path / "lm")
    assert isinstance(loaded, LanguageModel) and loaded.vocab == vocab
    assert loaded.sample_text(20, prime="the ", rng=1) == model.sample_text(20, prime="the ", rng=1)
    assert loaded.evaluate(PANGRAM * 2, batch_size=2, bptt=8) == model.evaluate(PANGRAM * 2, batch_size=2, bptt=8)


def test_fit_reports_validation_nats_per_token():
    pytest.importorskip("rnnlab.models.training")
    vocab = CharVocab.fit(PANGRAM)
    model = LanguageModel.from_vocab(vocab, embedding_dim=8, hidden_size=16, seed=0)
    history = model.fit(PANGRAM * 10, epochs=3, batch_size=4, bptt=16, optimizer=nn.Adam(0.01),
                        valid_tokens=PANGRAM * 2, progress=False)
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert history[-1]["val_loss"] == pytest.approx(model.evaluate(PANGRAM * 2, batch_size=4, bptt=16))


# -- errors -----------------------------------------------------------------------------------------
def test_mismatched_vocabulary_is_rejected():
    model = LanguageModel(5, hidden_size=4)
    with pytest.raises(RnnlabError, match="vocabulary has 29 ids but the model predicts 5"):
        model.set_vocab(CharVocab.fit(PANGRAM))
    with pytest.raises(RnnlabError, match="no vocabulary"):
        model.sample_text(3)


@pytest.mark.parametrize("call, match", [
    (lambda m: m.batches(np.arange(5), batch_size=1, bptt=8), r"shorter than bptt \+ 1 = 9"),
    (lambda m: m.batches(np.arange(7), batch_size=4, bptt=2), "too few for 4 parallel streams"),
    (lambda m: m.batches(np.array([1, 2, 9, 3]), batch_size=1, bptt=2), r"ids must lie in \[0, 7\)"),
    (lambda m: m.batches(np.array([], int), batch_size=1, bptt=2), "is empty"),
    (lambda m: m.batches(np.ones((2, 5), int), batch_size=1, bptt=2), "1-D array"),
    (lambda m: m.sample(3, prime=[]), "prime is empty"),
    (lambda m: m.sample(0), "n_tokens"),
    (lambda m: m.sample(3, temperature=-1), "temperature"),
    (lambda m: m.sample(3, top_k=8), "top_k"),
])
def test_bad_input_raises_one_clear_error(call, match):
    with pytest.raises(RnnlabError, match=match):
        call(_tiny())


def test_invalid_configuration_is_rejected():
    with pytest.raises(RnnlabError, match="cell must be one of"):
        LanguageModel(5, cell="transformer")
