"""Chapter 10's emoji classifier: the split keeps every tone of an emoji on one side, the
network has the documented shapes, and a short run on real emoji learns."""

import numpy as np
import pytest
import torch

from noise2image.diffusion import emoji_captions as ec
from noise2image.diffusion import emoji_classifier as clf
from noise2image.profiles import ParameterError


def test_the_split_is_by_emoji_so_no_tone_leaks():
    entries = ec.load().entries
    train, test = clf.split_by_emoji(entries, 0.1, seed=0)
    assert len(train) + len(test) == len(entries) and not set(train) & set(test)
    assert not {entries[i].name for i in train} & {entries[i].name for i in test}
    assert 0.05 < len(test) / len(entries) < 0.15


def test_shapes():
    net = clf.EmojiNet(99, width=8)
    x = torch.rand(2, 3, 64, 64)
    assert net(x).shape == (2, 99) and net.embed(x).shape == (2, 128)


@pytest.mark.parametrize("field, value", [("epochs", 0), ("lr", float("inf")), ("test_share", 0.9)])
def test_bad_settings_are_refused_by_name(field, value):
    with pytest.raises(ParameterError, match=field):
        clf.ClassifierConfig(**{field: value})


def test_a_short_run_beats_chance_by_far():
    full = ec.load()
    groups = {"food & drink", "animals & nature"}
    keep = [i for i, e in enumerate(full.entries) if e.group in groups]
    small = full.subset(keep)
    config = clf.ClassifierConfig(epochs=12, width=16, test_share=0.0)
    model, classes, trace = clf.train_emoji_classifier(
        small.images, small.entries, config, progress=False
    )
    labels = torch.tensor([classes.index(e.subgroup) for e in small.entries])
    pictures = torch.from_numpy(small.images).permute(0, 3, 1, 2).float() / 255
    chance = np.bincount(labels).max() / len(labels)
    assert clf.accuracy(model, pictures, labels) > chance + 0.2, (trace, chance)
