import collections
import time

import pytest
import torch

from noise2image import data, downloads
from noise2image.profiles import ParameterError


@pytest.fixture(scope="module")
def digits():
    return data.load_dataset("mnist5k", split="all")


@pytest.fixture(scope="module")
def emoji():
    return data.load_dataset("openmoji", split="all")


def test_mnist5k_is_5000_real_digits(digits):
    assert digits.images.shape == (5000, 1, 28, 28)
    assert digits.images.dtype == torch.float32
    assert digits.images.min() == 0 and digits.images.max() == 1
    counts = collections.Counter(digits.labels.tolist())
    assert sorted(counts) == list(range(10))
    assert all(450 <= c <= 550 for c in counts.values()), counts
    # real strokes, not noise: a digit covers a minority of its square
    ink = (digits.images > 0.5).float().mean(dim=(1, 2, 3))
    assert 0.05 < ink.mean() < 0.3


def test_openmoji_is_colour_pictures_with_captions(emoji):
    n, c, h, w = emoji.images.shape
    assert n >= 1800 and (c, h, w) == (3, 64, 64)
    assert len(emoji.captions) == n and all(cap.strip() for cap in emoji.captions)
    assert 0 <= emoji.images.min() and emoji.images.max() <= 1
    # every picture has something drawn on its white ground ...
    drawn = (emoji.images < 0.9).any(dim=1).float().mean(dim=(1, 2))
    assert (drawn > 0.01).all()  # the thinnest, "power on symbol", is a single bar
    # ... and the set is in colour: channels differ on most pictures
    spread = (emoji.images.max(dim=1).values - emoji.images.min(dim=1).values).amax(dim=(1, 2))
    assert (spread > 0.3).float().mean() > 0.7  # the rest: black-and-white symbols
    assert any(cap.startswith("flag of") for cap in emoji.captions)
    assert "grinning face" in emoji.captions


def test_openmoji_second_load_comes_from_the_cache(tmp_cache):
    data._openmoji_arrays.cache_clear()
    data._load_openmoji.cache_clear()
    try:
        first = data._openmoji_arrays(64)
        path = data._openmoji_cache_path(64)
        assert path.exists() and path.parent == tmp_cache
        data._openmoji_arrays.cache_clear()
        start = time.perf_counter()
        second = data._openmoji_arrays(64)
        assert time.perf_counter() - start < 2.0
        assert (first[0] == second[0]).all() and first[1:] == second[1:]
    finally:
        data._openmoji_arrays.cache_clear()
        data._load_openmoji.cache_clear()


@pytest.mark.parametrize("name", data.EMBEDDED)
def test_splits_are_disjoint_complete_and_seeded(name):
    full = data.load_dataset(name, "all")
    parts = {s: data.load_dataset(name, s, seed=3) for s in ("train", "val", "test")}
    sets = {s: set(p.meta["indices"].tolist()) for s, p in parts.items()}
    assert not sets["train"] & sets["val"] and not sets["train"] & sets["test"]
    assert not sets["val"] & sets["test"]
    assert len(sets["train"] | sets["val"] | sets["test"]) == len(full)
    assert abs(len(parts["train"]) / len(full) - 0.8) < 0.01
    again = data.load_dataset(name, "train", seed=3)
    other = data.load_dataset(name, "train", seed=4)
    assert torch.equal(again.images, parts["train"].images)
    assert not torch.equal(other.meta["indices"], parts["train"].meta["indices"])


def test_mnist5k_splits_are_stratified():
    test = data.load_dataset("mnist5k", "test")
    assert collections.Counter(test.labels.tolist()) == {d: 50 for d in range(10)}


def test_no_picture_is_in_two_splits():
    for name in data.EMBEDDED:
        parts = data.load_splits(name, seed=0)
        assert data.count_shared(parts["train"], parts["test"]) == 0
        assert data.count_shared(parts["train"], parts["val"]) == 0
        assert data.count_shared(parts["val"], parts["test"]) == 0


def test_openmoji_duplicates_are_removed_and_reported(emoji):
    assert data.count_shared(emoji, emoji) == len(emoji)  # every picture matches only itself
    assert len(set(data._image_hashes(emoji.images))) == len(emoji)
    notes = emoji.meta["duplicates_removed"]
    assert any("flag of Norway" in note for note in notes)
    assert all(" = " in note for note in notes)


def test_split_images_match_their_indices(digits):
    train = data.load_dataset("mnist5k", "train")
    assert torch.equal(train.images, digits.images[train.meta["indices"]])
    assert torch.equal(train.labels, digits.labels[train.meta["indices"]])


def test_loader_batches(digits):
    images, labels = next(iter(digits.loader(batch_size=32)))
    assert images.shape == (32, 1, 28, 28) and labels.shape == (32,)


def test_unknown_names_list_the_allowed_ones():
    with pytest.raises(ParameterError, match="mnist5k.*openmoji"):
        data.load_dataset("imagenet")
    with pytest.raises(ParameterError, match="'train', 'val', 'test', 'all'"):
        data.load_dataset("mnist5k", split="training")


def test_download_not_asked_fails_at_once_naming_the_embedded_set(tmp_path):
    start = time.perf_counter()
    with pytest.raises(data.DatasetUnavailableError, match="openmoji"):
        data.load_dataset("cifar10", root=tmp_path)
    assert time.perf_counter() - start < 1.0


def test_download_offline_fails_fast_and_leaves_nothing(tmp_path, monkeypatch):
    # an address that refuses at once stands in for "no internet" on any machine
    monkeypatch.setitem(downloads.DOWNLOAD_HOSTS, "mnist", "127.0.0.1")
    start = time.perf_counter()
    with pytest.raises(data.DatasetUnavailableError, match="mnist5k"):
        data.load_dataset("mnist", download=True, root=tmp_path)
    assert time.perf_counter() - start < 10.0
    assert list(tmp_path.iterdir()) == []
