"""Generation: the shipped GANs and sampling from a generator."""

import pytest
import torch
from conftest import tampered_copy

from noise2image import checkpoints, gan, generate
from noise2image.checkpoints import CheckpointError
from noise2image.profiles import ParameterError


def tiny(**changes):
    base = dict(epochs=2, limit=256, batch_size=32, ngf=8, ndf=8, seed=0)
    base.update(changes)
    return gan.GANConfig(**base)


def test_sampling_interpolation_and_layer_trace():
    config = tiny()
    G = gan.Generator(config)
    pictures = generate.sample(G, 10, seed=1)
    assert pictures.shape == (10, 1, 28, 28)
    assert torch.equal(pictures, generate.sample(G, 10, seed=1))
    path = generate.interpolate(G, torch.zeros(100), torch.ones(100), steps=5, label=3)
    assert path.shape == (5, 1, 28, 28)
    steps = generate.layer_trace(G, torch.randn(1, 100), torch.tensor([7]))
    assert [tuple(t.shape) for _, t in steps] == [
        (1, 110, 1, 1),
        (1, 32, 7, 7),
        (1, 16, 14, 14),
        (1, 1, 28, 28),
    ]


def test_shipped_digit_gan_meets_the_course_targets():
    from noise2image import data, features, metrics, preprocess

    shipped = generate.load_shipped("digits")
    assert (
        shipped.config == generate.SHIPPED["digits"]
        and len(shipped.trace) == generate.SHIPPED["digits"].epochs
    )
    net = features.load_feature_net()
    test = data.load_dataset("mnist5k", "test").images[:500]
    train = data.load_dataset("mnist5k", "train").images[:500]
    fake = preprocess.denormalise(generate.sample(shipped.generator, 500, seed=1))
    baseline = metrics.fid(test, train, net)
    assert metrics.recognisability(fake, net) >= 0.8
    # measured: FID 0.72 against a real-vs-real floor of 0.79 (0.9x)
    assert metrics.fid(test, fake, net) <= 1.5 * baseline
    # the label is obeyed: the classifier reads most digits as the digit asked for
    asked = torch.arange(500) % 10
    assert (net(fake).argmax(1) == asked).float().mean() > 0.9


def test_shipped_gan_checksum_is_enforced(tmp_path, monkeypatch):
    path, meta = checkpoints.shipped_files("gan_digits")
    copy = tampered_copy(path, tmp_path)
    monkeypatch.setattr(checkpoints, "shipped_files", lambda stem: (copy, meta))
    with pytest.raises(CheckpointError, match="checksum"):
        generate.load_shipped("digits")


def test_unknown_shipped_name_lists_the_shipped_ones():
    with pytest.raises(ParameterError, match="'digits', 'emoji'"):
        generate.load_shipped("faces")
