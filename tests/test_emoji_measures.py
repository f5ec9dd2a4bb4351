"""Chapter 10's measures: a copy of a training picture is its own nearest neighbour and a
near-copy, a new picture is not; a mask's shape and a measured colour are read back."""

import numpy as np
import pytest

from noise2image.diffusion import emoji_captions as ec
from noise2image.diffusion import emoji_measures as em


@pytest.fixture(scope="module")
def pictures():
    return ec.load().images[:400]


def test_a_copy_is_its_own_nearest_and_a_near_copy(pictures):
    drawn = pictures[[3, 30, 300]].copy()
    found = em.nearest_training(drawn, pictures)
    assert found["nearest"].tolist() == [3, 30, 300]
    assert found["distance"].max() == 0 and found["near copy"].all()
    noisy = np.clip(
        drawn.astype(int) + np.random.default_rng(0).integers(-8, 9, drawn.shape), 0, 255
    )
    again = em.nearest_training(noisy.astype(np.uint8), pictures)
    assert again["nearest"].tolist() == [3, 30, 300] and again["near copy"].all()


def test_a_blend_of_two_pictures_is_not_a_near_copy(pictures):
    blend = ((pictures[[5]].astype(int) + pictures[[50]].astype(int)) // 2).astype(np.uint8)
    found = em.nearest_training(blend, pictures)
    assert not found["near copy"][0] and found["ratio"][0] > em.NEAR_COPY


def test_shapes_and_colours_are_read_back():
    full = ec.load()
    shapes = {}
    for shape in ("heart", "circle", "square"):
        rows = [
            i
            for i, e in enumerate(full.entries)
            if e.name in {f"{c} {shape}" for c in ("red", "orange", "purple")}
        ]
        assert len(rows) == 3
        shapes[shape] = np.mean([em.colours.emoji_mask(full.images[i]) for i in rows], axis=0)
    tests = [full.index(n) for n in ("green heart", "blue circle", "yellow square")]
    assert em.shape_votes(full.images[tests], shapes) == ["heart", "circle", "square"]
    assert em.has_colour(full.images[tests], "green").tolist() == [True, False, False]
    with pytest.raises(ValueError, match="colour must be one of"):
        em.has_colour(full.images[tests], "teal")
