"""Colour words measured on the pixels (chapter 10's captions): OpenMoji's coloured hearts,
circles and squares each read as their own colour, a white shape inside its outline is
white, and bad pictures are refused."""

import numpy as np
import pytest

from noise2image import colours
from noise2image.data import render_openmoji
from noise2image.profiles import ParameterError

SHAPES = {
    "heart": {"red": "\u2764", "orange": "\U0001f9e1", "yellow": "\U0001f49b",
              "green": "\U0001f49a", "blue": "\U0001f499", "purple": "\U0001f49c",
              "brown": "\U0001f90e", "black": "\U0001f5a4", "white": "\U0001f90d",
              "pink": "\U0001fa77", "grey": "\U0001fa76"},
    "circle": {"red": "\U0001f534", "orange": "\U0001f7e0", "yellow": "\U0001f7e1",
               "green": "\U0001f7e2", "blue": "\U0001f535", "purple": "\U0001f7e3",
               "brown": "\U0001f7e4", "black": "\u26ab", "white": "\u26aa"},
    "square": {"red": "\U0001f7e5", "orange": "\U0001f7e7", "yellow": "\U0001f7e8",
               "green": "\U0001f7e9", "blue": "\U0001f7e6", "purple": "\U0001f7ea",
               "brown": "\U0001f7eb", "black": "\u2b1b", "white": "\u2b1c"},
}  # fmt: skip


@pytest.mark.parametrize("shape", SHAPES)
def test_openmojis_coloured_shapes_read_as_their_colour(shape):
    names = list(SHAPES[shape])
    pictures = render_openmoji(list(SHAPES[shape].values()), size=64)
    for name, picture in zip(names, pictures, strict=True):
        assert colours.colour_words(picture) == [name], (shape, colours.ink_colours(picture))
        (top, share), *_ = colours.ink_colours(picture)
        assert top == name and share > 0.8


def test_the_background_and_the_outline_are_not_ink():
    picture = np.full((32, 32, 3), 255, np.uint8)  # white page
    assert colours.ink_colours(picture) == []
    picture[8:24, 8:24] = (0, 0, 0)  # a black outline ...
    picture[10:22, 10:22] = (255, 255, 255)  # ... round a white inside
    assert colours.emoji_mask(picture)[16, 16] and not colours.emoji_mask(picture)[2, 2]
    assert colours.colour_words(picture) == ["white"]
    picture[10:22, 10:22] = (210, 47, 39)  # the inside red (OpenMoji's red)
    assert colours.colour_words(picture) == ["red"]
    picture[10:22, 10:16] = (30, 80, 160)  # half blue: two colour words, the larger first
    assert set(colours.colour_words(picture)) == {"red", "blue"}


def test_lab_of_known_colours():
    lab = colours.to_lab(np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0]]], np.uint8))
    assert lab[0, 0] == pytest.approx([100, 0, 0], abs=0.01)
    assert lab[0, 1] == pytest.approx([0, 0, 0], abs=0.01)
    assert lab[0, 2] == pytest.approx([53.24, 80.09, 67.20], abs=0.05)  # sRGB red, D65
    floats = colours.to_lab(np.array([[[1.0, 1.0, 1.0]]]))
    assert floats[0, 0, 0] == pytest.approx(100, abs=0.01)


@pytest.mark.parametrize(
    ("picture", "message"),
    [
        (np.zeros((4, 4)), "H, W, 3"),
        (np.full((4, 4, 3), np.nan), "NaN"),
        (np.full((4, 4, 3), 2.0), r"\[0, 1\]"),
    ],
)
def test_bad_pictures_are_refused(picture, message):
    with pytest.raises(ValueError, match=message):
        colours.ink_colours(picture)


def test_least_must_be_a_share():
    with pytest.raises(ParameterError, match="least"):
        colours.colour_words(np.full((4, 4, 3), 255, np.uint8), least=1.5)
