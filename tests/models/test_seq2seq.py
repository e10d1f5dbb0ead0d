"""Seq2Seq: end-to-end finite-difference gradients, decoding, padding invariance, a reversal task, save/load."""
import numpy as np
import pytest

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.models import load, save
from rnnlab.models.seq2seq import Seq2Seq, Seq2SeqBatch
from rnnlab.nn.functional import log_softmax
from rnnlab.nn.gradcheck import numerical_grad_sampled, rel_error, sample_indices

DIGITS = np.arange(3, 13)  # ten digits after pad=0, bos=1, eos=2
GRAD_CASES = {
    "lstm-bidirectional-general-2layers": dict(cell="lstm", bidirectional=True, attention="general", num_layers=2),
    "gru-dot": dict(cell="gru", attention="dot"),
    "gru-bidirectional-general": dict(cell="gru", bidirectional=True, attention="general"),
    "rnn-bidirectional-no-attention": dict(cell="rnn", bidirectional=True, attention=None),
    "lstm-no-attention-2layers": dict(cell="lstm", attention=None, num_layers=2),
}


def _tiny(seed=1, **cfg):
    return Seq2Seq(9, 8, embedding_dim=4, hidden_size=5, dtype="float64", seed=seed, **cfg)


def _reversal_data(rng, n, exclude=()):
    seen, src = {tuple(s) for s in exclude}, []
    while len(src) < n:
        s = rng.choice(DIGITS, size=rng.integers(3, 7))
        if tuple(s) not in seen:
            src.append(s)
    return src, [s[::-1] for s in src]


def _exact(pred, tgt):
    return float(np.mean([list(p) == list(t) for p, t in zip(pred, tgt)]))


@pytest.fixture(scope="module")
def reverser():
    """An attention LSTM trained to reverse 3-6 digit sequences (about 2 s), with held-out data."""
    rng = np.random.default_rng(0)
    train_src, train_tgt = _reversal_data(rng, 2000)
    test_src, test_tgt = _reversal_data(rng, 200, exclude=train_src)
    model = Seq2Seq(13, 13, embedding_dim=16, hidden_size=64, attention="general", seed=0)
    opt = nn.Adam(0.005)
    for _ in range(6):
        for batch in model.batches(train_src, train_tgt, batch_size=32)(rng):
            model.train_step_loss(batch)
            nn.clip_grad_norm(model.grads, 5.0)
            opt.step(model.params, model.grads)
    return model.eval(), test_src, test_tgt


# -- gradients ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", GRAD_CASES.values(), ids=GRAD_CASES.keys())
def test_loss_gradients_match_finite_differences(cfg):
    rng = np.random.default_rng(0)
    model = _tiny(**cfg)
    for p in model.params.values():
        p *= 2.0  # peaked attention and larger gradients, well above the finite-difference noise
    # variable source and target lengths (one empty target: only its eos is predicted)
    src = [rng.integers(3, 9, n) for n in (4, 2, 3)]
    tgt = [rng.integers(3, 8, n) for n in (1, 3, 0)]
    batch = model.make_batch(src, tgt)
    model.train_step_loss(batch)
    analytic = {k: g.copy() for k, g in model.grads.items()}
    assert set(analytic) == set(model.params) and {k.split(".")[0] for k in analytic} == set(model.modules)
    for name, p in model.params.items():
        idx = sample_indices(p.size, 8, rng)
        num = numerical_grad_sampled(lambda: model.loss(batch), p, idx)
        assert rel_error(analytic[name].reshape(-1)[idx], num) < 1e-6, name


def test_encoder_receives_gradient_through_attention_and_final_state():
    rng = np.random.default_rng(2)
    batch = None
    for attention in (None, "general"):
        model = _tiny(attention=attention)
        batch = batch or model.make_batch([rng.integers(3, 9, 4)], [rng.integers(3, 8, 3)])
        model.train_step_loss(batch)
        assert np.abs(model.grads["encoder.weight_ih_l0"]).sum() > 0
        assert np.abs(model.grads["src_embed.weight"]).sum() > 0


# -- batches and padding ----------------------------------------------------------------------------
def test_make_batch_adds_bos_and_eos_and_pads():
    model = _tiny()
    b = model.make_batch([[3, 4], [5, 6, 7]], [[4, 3, 5], []])
    np.testing.assert_array_equal(b.src, [[3, 4, 0], [5, 6, 7]])
    np.testing.assert_array_equal(b.src_lengths, [2, 3])
    np.testing.assert_array_equal(b.tgt_in, [[1, 4, 3, 5], [1, 0, 0, 0]])
    np.testing.assert_array_equal(b.tgt_out, [[4, 3, 5, 2], [2, 0, 0, 0]])
    np.testing.assert_array_equal(b.tgt_lengths, [4, 1])


@pytest.mark.parametrize("cfg", [dict(cell="lstm", bidirectional=True), dict(cell="gru", attention=None)],
                         ids=["lstm-bidirectional-general", "gru-no-attention"])
def test_padding_in_the_batch_changes_neither_loss_nor_decoding(cfg):
    rng = np.random.default_rng(3)
    model = _tiny(**cfg)
    a_src, a_tgt = rng.integers(3, 9, 3), rng.integers(3, 8, 2)
    alone = model.make_batch([a_src], [a_tgt])
    mixed = model.make_batch([a_src, rng.integers(3, 9, 7)], [a_tgt, rng.integers(3, 8, 5)])
    pad4 = lambda a: np.pad(a, ((0, 0), (0, 4)))  # noqa: E731  (four more padding steps, id 0)
    extra = Seq2SeqBatch(pad4(alone.src), alone.src_lengths, pad4(alone.tgt_in), pad4(alone.tgt_out),
                         alone.tgt_lengths)
    T = alone.tgt_lengths[0]
    ref = model.logits(alone)[0]
    np.testing.assert_allclose(model.logits(mixed)[0, :T], ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.logits(extra)[0, :T], ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.evaluate_batch(extra)["loss"], model.evaluate_batch(alone)["loss"],
                               rtol=1e-12)
    mixed_src = [a_src, rng.integers(3, 9, 6)]
    assert model.greedy_decode([a_src], max_len=8) == model.greedy_decode(mixed_src, max_len=8)[:1]
    assert model.greedy_decode(extra.src, extra.src_lengths, max_len=8) == model.greedy_decode([a_src], max_len=8)
    assert model.beam_search([a_src], beam_width=3, max_len=8) == \
        model.beam_search(mixed_src, beam_width=3, max_len=8)[:1]


def test_evaluate_batch_sums_loss_and_correct_tokens_over_target_steps():
    model = _tiny()
    batch = model.make_batch([[3, 4], [5, 6, 7]], [[4, 3, 5], [6]])
    r = model.evaluate_batch(batch)
    assert r["count"] == 4 + 2 and 0 <= r["accuracy"] <= r["count"]
    assert r["loss"] == pytest.approx(model.loss(batch) * r["count"])


# -- decoding ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [dict(cell="lstm", bidirectional=True), dict(cell="gru", attention="dot"),
                                 dict(cell="rnn", attention=None, num_layers=2)],
                         ids=["lstm-bidirectional-general", "gru-dot", "rnn-2layers"])
def test_beam_width_one_equals_greedy_on_random_weights(cfg):
    rng = np.random.default_rng(4)
    model = _tiny(**cfg)
    src = [rng.integers(3, 9, n) for n in (1, 4, 6, 2)]
    assert model.beam_search(src, beam_width=1, max_len=7) == model.greedy_decode(src, max_len=7)


def test_beam_width_one_equals_greedy_on_trained_model(reverser):
    model, src, _ = reverser
    assert model.beam_search(src[:50], beam_width=1) == model.greedy_decode(src[:50])


def test_beam_score_is_the_log_probability_of_the_returned_sequence(reverser):
    model, src, _ = reverser
    seqs, scores = model.beam_search(src[:5], beam_width=3, return_scores=True)
    batch = model.make_batch(src[:5], seqs)
    logp = log_softmax(model.logits(batch).astype(np.float64))
    token_logp = np.take_along_axis(logp, batch.tgt_out[..., None], -1)[..., 0]
    keep = np.arange(batch.tgt_out.shape[1]) < batch.tgt_lengths[:, None]
    np.testing.assert_allclose(scores, (token_logp * keep).sum(1), rtol=1e-5, atol=1e-6)


def test_decoding_leaves_the_training_mode_as_it_was():
    model = _tiny(dropout=0.5, num_layers=2)
    model.train()
    model.greedy_decode([[3, 4]], max_len=3)
    model.beam_search([[3, 4]], beam_width=2, max_len=3)
    assert model.training and model.modules["decoder"].training


# -- behaviour --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_learns_to_reverse_digit_sequences(reverser):
    model, src, tgt = reverser
    assert _exact(model.greedy_decode(src), tgt) >= 0.9
    assert _exact(model.beam_search(src, beam_width=3), tgt) >= 0.9


def test_save_load_round_trip_gives_identical_decodes(reverser, tmp_path):
    model, src, _ = reverser
    model.meta["task"] = "reverse digits"
    save(model, tmp_path / "rev")
    loaded = load(tmp_path / "rev")
    assert isinstance(loaded, Seq2Seq) and loaded.get_config() == model.get_config()
    assert loaded.meta["task"] == "reverse digits"
    for k, v in model.params.items():
        np.testing.assert_array_equal(loaded.params[k], v)
    assert loaded.greedy_decode(src[:40]) == model.greedy_decode(src[:40])
    assert loaded.beam_search(src[:40], beam_width=3) == model.beam_search(src[:40], beam_width=3)


def test_fit_trains_and_reports_validation_metrics():
    pytest.importorskip("rnnlab.models.training")
    rng = np.random.default_rng(5)
    src, tgt = _reversal_data(rng, 200)
    model = Seq2Seq(13, 13, embedding_dim=8, hidden_size=16, seed=0)
    history = model.fit(src, tgt, epochs=3, batch_size=32, optimizer=nn.Adam(0.01),
                        valid=(src[:50], tgt[:50]), progress=False)
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert 0 <= history[-1]["val_accuracy"] <= 1


# -- errors -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    (dict(attention="dot", bidirectional=True), "attention='dot'"),
    (dict(attention="bahdanau"), "attention must be"),
    (dict(cell="lstmm"), "cell must be"),
    (dict(bos_id=0), "must differ"),
    (dict(eos_id=99), "eos_id"),
])
def test_invalid_configuration_is_rejected(kwargs, match):
    with pytest.raises(RnnlabError, match=match):
        Seq2Seq(9, 8, **kwargs)


@pytest.mark.parametrize("src, tgt, match", [
    ([[3, 4], []], [[3], [4]], "is empty"),
    ([], [], "is empty"),
    ([[3, 9]], [[3]], r"source ids must lie in \[0, 9\)"),
    ([[3, 4]], [[8]], r"target ids must lie in \[0, 8\).*another vocabulary"),
    ([[3, 4]], [[3], [4]], "one target per source"),
    ([[3.5, 4]], [[3]], "integer ids"),
])
def test_bad_batches_raise_one_clear_error(src, tgt, match):
    with pytest.raises(RnnlabError, match=match):
        _tiny().make_batch(src, tgt)


def test_bad_decoding_arguments_raise():
    model = _tiny()
    with pytest.raises(RnnlabError, match="beam_width"):
        model.beam_search([[3, 4]], beam_width=0)
    with pytest.raises(RnnlabError, match="length_penalty"):
        model.beam_search([[3, 4]], length_penalty=-1)
    with pytest.raises(RnnlabError, match="max_len"):
        model.greedy_decode([[3, 4]], max_len=0)
    with pytest.raises(RnnlabError, match="source ids"):
        model.greedy_decode([[3, 40]])
