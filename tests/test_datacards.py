"""Data cards describe each data set; the embedded ones are measured."""

import pytest

from noise2image import datacards
from noise2image.data import load_dataset
from noise2image.profiles import ParameterError


@pytest.fixture(scope="module")
def emoji():
    return load_dataset("openmoji", split="all")


def test_data_cards_measure_the_embedded_sets(emoji):
    card = datacards.data_card("openmoji")
    assert card.shape == f"{len(emoji)}×64×64×3"
    assert "CC BY-SA 4.0" in card.licence and "OpenMoji" in card.attribution
    assert datacards.data_card("mnist5k").shape == "5000×28×28×1"
    assert not datacards.data_card("cifar10").embedded
    assert set(card.to_frame().index) >= {"licence", "attribution", "shape (N×H×W×C)"}


def test_unknown_data_set_names_the_allowed_ones():
    with pytest.raises(ParameterError, match="mnist5k"):
        datacards.data_card("imagenet")
