"""Preprocessing: value ranges, sizes, grey, blur and augmentation, each seeded and shaped."""

import pytest
import torch

from noise2image import preprocess
from noise2image.data import load_dataset
from noise2image.profiles import ParameterError


@pytest.fixture(scope="module")
def digits():
    return load_dataset("mnist5k", split="all")


@pytest.fixture(scope="module")
def emoji():
    return load_dataset("openmoji", split="all")


def test_normalise_and_denormalise_round_trip(digits):
    raw = preprocess.to_uint8(digits.images[:8])
    assert raw.dtype == torch.uint8 and raw.max() == 255
    tanh = preprocess.normalise(raw, "tanh")
    assert tanh.min() == -1 and tanh.max() == 1
    assert torch.allclose(preprocess.denormalise(tanh, "tanh"), raw.float() / 255)
    assert torch.equal(preprocess.normalise(raw, "unit"), raw.float() / 255)
    with pytest.raises(ParameterError, match="'unit', 'tanh'"):
        preprocess.normalise(raw, "zero_one")


def test_resize_and_crop(emoji):
    small = preprocess.resize(emoji.images[:4], 32)
    assert small.shape == (4, 3, 32, 32)
    cropped = preprocess.resize(emoji.images[:4], 32, crop=0.5)
    assert cropped.shape == (4, 3, 32, 32)
    # the crop zooms in: less white border survives
    assert cropped.mean() < small.mean()


def test_augment_is_seeded_and_keeps_shape(emoji):
    batch = emoji.images[:6]
    first = preprocess.augment(batch, torch.Generator().manual_seed(1))
    again = preprocess.augment(batch, torch.Generator().manual_seed(1))
    other = preprocess.augment(batch, torch.Generator().manual_seed(2))
    assert first.shape == batch.shape and torch.equal(first, again)
    assert not torch.equal(first, other)
    assert 0 <= first.min() and first.max() <= 1


def test_grey_uses_the_luma_weights_and_passes_grey_pictures_through():
    colour = torch.zeros(1, 3, 2, 2)
    colour[:, 0] = 1.0  # pure red
    assert torch.allclose(preprocess.grey(colour), torch.full((1, 1, 2, 2), 0.299))
    single = torch.rand(2, 1, 4, 4)
    assert preprocess.grey(single) is single


def test_blur_widens_a_step_and_keeps_a_flat_picture_flat():
    flat = torch.full((1, 1, 16, 16), 0.5)
    assert torch.allclose(preprocess.blur(flat, 1.0), flat)
    step = torch.zeros(1, 1, 16, 16)
    step[..., 8:] = 1.0
    edges = [preprocess.blur(step, s).diff(dim=-1).abs().max().item() for s in (0.5, 1, 2)]
    assert edges[0] > edges[1] > edges[2]  # the steepest jump flattens as sigma grows


def test_random_flip_shift_and_blur_are_seeded_and_keep_shape(digits):
    batch = digits.images[:32]
    for transform in (
        lambda x, rng: preprocess.random_flip(x, rng),
        lambda x, rng: preprocess.random_shift(x, 2, rng),
        lambda x, rng: preprocess.random_blur(x, 0.5, rng),
    ):
        first = transform(batch, torch.Generator().manual_seed(1))
        again = transform(batch, torch.Generator().manual_seed(1))
        assert first.shape == batch.shape and torch.equal(first, again)
        assert not torch.equal(first, batch)
    flipped = preprocess.random_flip(batch, torch.Generator().manual_seed(0), p=1.0)
    assert torch.equal(flipped, batch.flip(-1))
    assert torch.equal(preprocess.random_shift(batch, 0, torch.Generator()), batch)
    with pytest.raises(ParameterError, match="share"):
        preprocess.random_blur(batch, 1.5, torch.Generator())
