"""The discriminator is the classifier machinery: it learns an easy split, saves and loads, checks vocabularies."""
import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.gan.discriminator import accuracy, make_discriminator, prob_real, train_discriminator
from rnnlab.gan.generator import make_generator
from rnnlab.gan.seqgan import SeqGAN
from rnnlab.models import Sequential, load, save


def _easy(rng, n=200):
    """Real sequences use even ids, generated ones odd ids."""
    return 2 * rng.integers(0, 5, (n, 6)), 2 * rng.integers(0, 5, (n, 6)) + 1


def test_discriminator_learns_to_tell_even_from_odd_ids():
    rng = np.random.default_rng(0)
    real, fake = _easy(rng)
    d = make_discriminator(10, 8, 8, seed=0, lr=0.01)
    assert isinstance(d, Sequential)
    train_discriminator(d, real, fake, epochs=3, batch_size=32, seed=0)
    assert accuracy(d, *_easy(rng)) > 0.95


@pytest.mark.parametrize("bidirectional", [True, False])
def test_saved_discriminator_scores_as_before(tmp_path, bidirectional):
    rng = np.random.default_rng(1)
    d = make_discriminator(10, 4, 5, cell="gru", bidirectional=bidirectional, seed=1)
    train_discriminator(d, *_easy(rng, 40), epochs=1)
    x = rng.integers(0, 10, (7, 6))
    p = prob_real(d, x)
    assert p.shape == (7,) and np.all((p > 0) & (p < 1))
    np.testing.assert_array_equal(prob_real(load(save(d, tmp_path / "d")), x), p)


def test_vocabulary_mismatch_between_generator_and_discriminator_is_one_error():
    with pytest.raises(RnnlabError, match="the generator emits 12 token ids but the discriminator reads 10"):
        SeqGAN(make_generator(12, 4, 4), make_discriminator(10, 4, 4), seq_len=5)


def test_ids_outside_the_discriminators_vocabulary_are_one_error():
    with pytest.raises(RnnlabError, match=r"hold ids from 0 to 10 but the vocabulary has 10 ids"):
        prob_real(make_discriminator(10, 4, 4), np.array([[0, 10]]))
