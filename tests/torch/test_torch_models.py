"""LanguageModel and Seq2Seq on the PyTorch engine compute what the NumPy engine computes, and train alike.

For LSTM, GRU and RNN cells, 1-2 layers, uni/bidirectional encoders, no/dot/general attention:
teacher-forced logits, greedy decodes and chunk-by-chunk language-model logits (carried state)
agree within 1e-5 in float32 and 1e-10 in float64, in both directions of conversion and through
model folders; ``torch_train`` has the NumPy loss and gradients, and trains like ``fit``.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab import nn  # noqa: E402
from rnnlab.data.text import CharVocab  # noqa: E402
from rnnlab.errors import RnnlabError  # noqa: E402
from rnnlab.models import EarlyStopping, LambdaCallback, Sequential, StepLR, load, save  # noqa: E402
from rnnlab.models.base import Model  # noqa: E402
from rnnlab.models.language import LanguageModel  # noqa: E402
from rnnlab.models.seq2seq import Seq2Seq  # noqa: E402
from rnnlab.models.training import fit  # noqa: E402
from rnnlab.torch import (TorchLanguageModel, TorchSeq2Seq, from_torch, load_torch, save_torch,  # noqa: E402
                          to_torch, torch_train)
from rnnlab.torch.kind_training import TorchKindModel  # noqa: E402

TOL = {"float32": 1e-5, "float64": 1e-10}
CELLS = ["lstm", "gru", "rnn"]
# (bidirectional encoder, attention); "dot" needs encoder outputs of the decoder's size
S2S = {"uni-none": (False, None), "uni-dot": (False, "dot"), "uni-general": (False, "general"),
       "bi-none": (True, None), "bi-general": (True, "general")}


def randomize(model, seed=0, scale=0.5):
    """Random non-zero weights everywhere (zero biases would hide bias-layout mistakes)."""
    rng = np.random.default_rng(seed)
    for p in model.params.values():
        p[...] = rng.standard_normal(p.shape) * scale
    return model


def perturb(net, seed=3):
    """New weights on the torch side only."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5)


def lm_for(cell="lstm", layers=2, dtype="float32", seed=0):
    return randomize(LanguageModel(11, embedding_dim=4, hidden_size=5, num_layers=layers, cell=cell, seed=seed,
                                   dtype=dtype), seed).eval()


def s2s_for(cell="lstm", layers=2, case="bi-general", dtype="float32", seed=0):
    bi, attention = S2S[case]
    model = Seq2Seq(9, 10, embedding_dim=4, hidden_size=5, num_layers=layers, cell=cell, bidirectional=bi,
                    attention=attention, seed=seed, dtype=dtype)
    return randomize(model, seed).eval()


def pairs(n=4, seed=1):
    """Sources of lengths 1..6 and targets of 0..5 tokens (an empty target still predicts eos)."""
    rng = np.random.default_rng(seed)
    lengths = [(5, 3), (2, 0), (4, 5), (1, 2)] if n == 4 else rng.integers(1, 6, (n, 2))
    return ([rng.integers(3, 9, a) for a, _ in lengths], [rng.integers(3, 10, b) for _, b in lengths])


def chunks(B=3, seed=2):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 11, (B, 6)), rng.integers(0, 11, (B, 4))


def torch_chunks(net, xs):
    with torch.no_grad():
        net.reset_states()
        return [net.logits(net.ids(x)).numpy() for x in xs]


def numpy_chunks(model, xs):
    model.reset_states()
    return [model.logits(x) for x in xs]


def teacher_forced(net, batch):
    with torch.no_grad():
        return net.logits(batch).numpy()


# ---------------------------------------------------------------- LanguageModel

@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_language_model_logits_match_over_chunks_with_carried_state(cell, layers):
    model = lm_for(cell, layers)
    net = to_torch(model).eval()
    assert isinstance(net, TorchLanguageModel)
    for ours, theirs in zip(torch_chunks(net, chunks()), numpy_chunks(model, chunks())):
        np.testing.assert_allclose(ours, theirs, atol=TOL["float32"], rtol=0)


def test_language_model_carry_is_detached_and_restarts_like_numpy():
    model = lm_for("lstm")
    net = to_torch(model).train()
    x1, x2 = chunks()
    net.reset_states()
    net.logits(net.ids(x1)).sum().backward()
    assert all(not s.requires_grad for s in net._carry)  # truncated BPTT: no graph across chunks
    # a batch of another size starts from zeros in both engines
    model.reset_states()
    model.logits(x1)
    np.testing.assert_allclose(net.logits(net.ids(x2[:2])).detach().numpy(), model.logits(x2[:2]),
                               atol=TOL["float32"], rtol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_language_model_torch_to_numpy_after_perturbing(cell):
    template = lm_for(cell)
    net = to_torch(template).eval()
    perturb(net)
    model = from_torch(net)
    assert isinstance(model, LanguageModel) and model is not template
    assert not np.allclose(numpy_chunks(model, chunks())[0], numpy_chunks(template, chunks())[0])
    for ours, theirs in zip(numpy_chunks(model, chunks()), torch_chunks(net, chunks())):
        np.testing.assert_allclose(ours, theirs, atol=TOL["float32"], rtol=0)
    # with a template the architecture is the template's, the weights the module's
    np.testing.assert_array_equal(from_torch(net, template).params["out.weight"], model.params["out.weight"])


# ---------------------------------------------------------------- Seq2Seq

@pytest.mark.parametrize("case", list(S2S))
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_seq2seq_teacher_forced_logits_match(cell, layers, case):
    model = s2s_for(cell, layers, case)
    net = to_torch(model).eval()
    assert isinstance(net, TorchSeq2Seq)
    batch = model.make_batch(*pairs())
    np.testing.assert_allclose(teacher_forced(net, batch), model.logits(batch), atol=TOL["float32"], rtol=0)


@pytest.mark.parametrize("case", list(S2S))
@pytest.mark.parametrize("cell", CELLS)
def test_seq2seq_greedy_decode_matches(cell, case):
    model = s2s_for(cell, 2, case, seed=4)
    # random weights that rarely emit eos or pad (which decodes strip): long outputs to compare
    model.params["out.bias"][[model.eos_id, model.pad_id]] -= 3.0
    src, _ = pairs(12, seed=5)
    ours = to_torch(model).greedy_decode(src, max_len=7)
    assert ours == model.greedy_decode(src, max_len=7)
    assert sum(map(len, ours)) > 24


@pytest.mark.parametrize("case", ["uni-general", "bi-none"])
@pytest.mark.parametrize("cell", CELLS)
def test_seq2seq_torch_to_numpy_after_perturbing(cell, case):
    template = s2s_for(cell, 2, case)
    net = to_torch(template).eval()
    perturb(net)
    model = from_torch(net, template)
    batch = template.make_batch(*pairs())
    assert not np.allclose(model.logits(batch), template.logits(batch))
    np.testing.assert_allclose(model.logits(batch), teacher_forced(net, batch), atol=TOL["float32"], rtol=0)
    assert model.greedy_decode(batch.src, batch.src_lengths, 6) == net.greedy_decode(batch.src, batch.src_lengths, 6)


@pytest.mark.parametrize("cell", CELLS)
def test_float64_models_agree_to_1e_10(cell):
    lm = lm_for(cell, dtype="float64")
    for ours, theirs in zip(torch_chunks(to_torch(lm), chunks()), numpy_chunks(lm, chunks())):
        np.testing.assert_allclose(ours, theirs, atol=TOL["float64"], rtol=0)
    for case in ("uni-dot", "bi-general"):
        model = s2s_for(cell, 2, case, dtype="float64")
        batch = model.make_batch(*pairs())
        net = to_torch(model)
        assert next(net.parameters()).dtype == torch.float64
        np.testing.assert_allclose(teacher_forced(net, batch), model.logits(batch), atol=TOL["float64"], rtol=0)


# ---------------------------------------------------------------- folders and names

@pytest.mark.parametrize("kind", ["language_model", "seq2seq"])
def test_state_dict_keys_are_the_model_params(kind):
    model = lm_for() if kind == "language_model" else s2s_for()
    assert set(to_torch(model).state_dict()) == set(model.params)


def test_folders_load_in_either_engine(tmp_path):
    vocab = CharVocab.fit("abcdefghij")
    lm = randomize(LanguageModel.from_vocab(vocab, embedding_dim=4, hidden_size=5, cell="gru"), 1).eval()
    save(lm, tmp_path / "lm")
    net = load_torch(tmp_path / "lm")
    assert isinstance(net, TorchLanguageModel) and not net.training and net.meta["vocab"] == lm.meta["vocab"]
    xs = [x % len(vocab) for x in chunks()]
    np.testing.assert_allclose(torch_chunks(net, xs)[1], numpy_chunks(lm, xs)[1], atol=TOL["float32"], rtol=0)
    perturb(net)
    save_torch(net, tmp_path / "lm2")
    back = load(tmp_path / "lm2")
    assert back.vocab.to_json() == vocab.to_json()
    np.testing.assert_allclose(numpy_chunks(back, xs)[1], torch_chunks(net, xs)[1], atol=TOL["float32"], rtol=0)

    s2s = s2s_for("lstm", 2, "bi-general")
    batch = s2s.make_batch(*pairs())
    save(s2s, tmp_path / "s2s")
    net = load_torch(tmp_path / "s2s")
    np.testing.assert_allclose(teacher_forced(net, batch), s2s.logits(batch), atol=TOL["float32"], rtol=0)
    perturb(net)
    save_torch(net, tmp_path / "s2s2")
    np.testing.assert_allclose(load(tmp_path / "s2s2").logits(batch), teacher_forced(net, batch),
                               atol=TOL["float32"], rtol=0)


def test_kinds_without_a_twin_are_refused_in_one_sentence(monkeypatch):
    with pytest.raises(RnnlabError, match="covers Sequential, LanguageModel, Seq2Seq and Forecaster"):
        to_torch(type("Bare", (Model,), {"kind": "bare"})())  # a kind with no torch twin
    with pytest.raises(RnnlabError, match="template of that kind"):
        from_torch(to_torch(lm_for()), template=s2s_for())
    with pytest.raises(RnnlabError, match="torch_fit"):
        torch_train(Sequential([nn.LSTM(3, 4), nn.Dense(4, 1)]), lambda rng: [], epochs=1, device="cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")  # under torchrun each process would train its own copy
    with pytest.raises(RnnlabError, match="one process"):
        torch_train(lm_for(), lambda rng: [], epochs=1, device="cpu")


# ---------------------------------------------------------------- training

def lm_batches(model, n=160, seed=0):
    return model.batches(np.random.default_rng(seed).integers(0, 11, n), batch_size=4, bptt=8)


@pytest.mark.parametrize("kind", ["language_model", "seq2seq"])
def test_first_batch_loss_and_gradients_match_numpy(kind):
    model = lm_for("lstm", dtype="float64").train() if kind == "language_model" else (
        s2s_for("gru", 2, "bi-general", dtype="float64").train())
    batch = next(iter(lm_batches(model)() if kind == "language_model" else model.batches(*pairs(), 4)()))
    value = model.train_step_loss(batch)
    tmodel = TorchKindModel(to_torch(model).train(), model, torch.device("cpu"))
    assert tmodel.train_step_loss(batch) == pytest.approx(value, rel=1e-12)
    for name, g in tmodel.grads.items():
        np.testing.assert_allclose(g, model.grads[name], atol=1e-10, rtol=0, err_msg=name)
    model32 = lm_for("lstm") if kind == "language_model" else s2s_for("gru", 2, "bi-general")
    value32 = model32.train().train_step_loss(batch)
    tmodel32 = TorchKindModel(to_torch(model32).train(), model32, torch.device("cpu"))
    assert abs(tmodel32.train_step_loss(batch) - value32) < 1e-5


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["language_model", "seq2seq"])
def test_torch_train_follows_numpy_fit(kind, dtype):
    """Same batches (same seed), same Adam steps with clipping: the same weights and History."""
    def make():
        return lm_for("gru", dtype=dtype) if kind == "language_model" else s2s_for("lstm", 1, "bi-general",
                                                                                      dtype=dtype)

    def sources(model):
        if kind == "language_model":
            return lm_batches(model), None
        return model.batches(*pairs(24), 6), model.batches(*pairs(8, seed=7), 4, shuffle=False)

    ours, theirs = make(), make()
    train, valid = sources(ours)
    h1 = torch_train(ours, train, valid_batches=valid, epochs=2, optimizer=nn.Adam(2e-2), clip_norm=1.0,
                     device="cpu", progress=False)
    train, valid = sources(theirs)
    h2 = fit(theirs, train, valid_batches=valid, epochs=2, optimizer=nn.Adam(2e-2), clip_norm=1.0, progress=False)
    tol = 1e-8 if dtype == "float64" else 1e-4
    for name, p in theirs.params.items():
        np.testing.assert_allclose(ours.params[name], p, atol=tol, rtol=0, err_msg=name)
    for key in ("loss", "grad_norm") + (("val_loss", "val_accuracy") if kind == "seq2seq" else ()):
        np.testing.assert_allclose(h1[:, key], h2[:, key], rtol=tol, err_msg=key)
    assert not ours.training


def test_torch_train_lowers_the_loss_with_schedules_and_early_stopping(tmp_path):
    tokens = np.tile([0, 1, 2, 3, 1, 2, 4], 60)  # a periodic text: next ids are predictable
    model = LanguageModel(5, embedding_dim=6, hidden_size=16, cell="lstm", seed=0)
    stopper = EarlyStopping("loss", patience=2)
    history = torch_train(model, model.batches(tokens, 8, 10), epochs=8, optimizer=nn.Adam(3e-2),
                          callbacks=[StepLR(step_size=4, gamma=0.5), stopper], device="cpu", progress=False,
                          out_dir=tmp_path)
    assert history[:, "lr"][:4] == [3e-2] * 4 and history[-1, "lr"] == pytest.approx(1.5e-2)
    assert history[-1, "loss"] < 0.3 * history[0, "loss"]
    assert model.evaluate(tokens, batch_size=4, bptt=10) < 0.3 * np.log(5)  # the weights came back
    # out_dir's best model is an ordinary model folder, written from the torch weights
    assert isinstance(load(tmp_path / "best"), LanguageModel) and (tmp_path / "history.csv").is_file()


def test_callbacks_read_trainer_model_like_the_numpy_one():
    """Task callbacks decode with trainer.model and read its meta (g2p's ValidationRound does)."""
    rng = np.random.default_rng(0)
    src = [rng.integers(3, 9, rng.integers(2, 6)) for _ in range(60)]
    model = Seq2Seq(9, 9, embedding_dim=8, hidden_size=16, attention="dot", seed=0)
    model.meta["note"] = "kept"
    seen = []

    def look(trainer):
        assert isinstance(trainer.model, TorchKindModel) and trainer.model.meta["note"] == "kept"
        greedy = trainer.model.greedy_decode(src[:5], max_len=8)
        # anything else is the NumPy model's, holding the weights being trained
        assert trainer.model.beam_search(src[:5], beam_width=1, max_len=8) == greedy
        seen.append(np.mean([a == list(b) for a, b in zip(trainer.model.greedy_decode(src, max_len=8), src)]))

    history = torch_train(model, model.batches(src, src, 8), epochs=6, optimizer=nn.Adam(2e-2),
                          valid_batches=model.batches(src, src, 30, shuffle=False), device="cpu", progress=False,
                          callbacks=[LambdaCallback(on_epoch_end=look)])
    assert len(seen) == 6 and history[-1, "val_loss"] < 0.7 * history[0, "val_loss"]
    assert model.greedy_decode(src, max_len=8) == to_torch(model).greedy_decode(src, max_len=8)
