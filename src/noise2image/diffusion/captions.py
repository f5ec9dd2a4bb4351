"""Captions made from the data (chapter 8): why a negative prompt can work at all.

Every caption is built from what was *measured* on its picture, never invented:

* the digit's word (``"a seven"``), or, some of the time, only ``"a digit"``, so that a prompt
  can leave the number open;
* style words measured on the picture: ``thin`` / ``bold`` from the stroke thickness (ink mass
  divided by the length of the stroke's skeleton), ``upright`` / ``slanted`` from the slant
  (the image moments' shear ``mu11 / mu02``, the measure used to deskew MNIST); the thresholds
  are quantiles of the training digits (:class:`StyleThresholds`);
* quality words on deliberately degraded copies (:data:`DEFECTS`: ``blurry``, ``noisy``,
  ``faint``, ``pixelated``), made with chapter 2's functions. As on the web, a degraded
  picture's caption names its defect only some of the time (``CaptionConfig.name_defect``), so
  a plain prompt draws some bad pictures, and naming the defect in the negative prompt
  steers away from them.

Caption dropout (``CaptionConfig.dropout``) replaces a caption by ``""``: the empty prompt
that classifier-free guidance needs.

>>> data = captioned_digits(CaptionConfig(), seed=0)
>>> data.images.shape, data.captions[:2]     # (N, 1, 28, 28), ['a bold seven', 'a digit']
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..profiles import check_float, check_int

__all__ = [
    "crop28",
    "DIGIT_WORDS",
    "STYLE_WORDS",
    "DEFECTS",
    "VOCABULARY",
    "CaptionConfig",
    "StyleThresholds",
    "CaptionedDigits",
    "thickness",
    "slant",
    "style_thresholds",
    "style_words",
    "degrade",
    "with_article",
    "caption",
    "captioned_digits",
    "word_counts",
]

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
STYLE_WORDS = ("thin", "bold", "upright", "slanted")
DEFECTS = ("blurry", "noisy", "faint", "pixelated")
VOCABULARY = ("a", "digit", *DIGIT_WORDS, *STYLE_WORDS, *DEFECTS)


@dataclass(frozen=True)
class CaptionConfig:
    """How captions and degraded copies are made from the training digits."""

    copies: int = 4  # captioned copies of every training digit (each with its own draw)
    degraded: float = 0.2  # share of the copies that are degraded by one defect
    name_defect: float = 0.5  # how often a degraded copy's caption names its defect
    name_style: float = 0.7  # how often a measured style word is written down
    name_digit: float = 0.8  # how often the digit is named ("a seven"), else "a digit"
    dropout: float = 0.1  # share of captions replaced by "" (the empty prompt)
    quantile: float = 0.25  # style words for the lowest / highest quarter of the digits

    def __post_init__(self):
        check_int("copies", self.copies, minimum=1, maximum=64)
        for name in ("degraded", "name_defect", "name_style", "name_digit", "dropout"):
            check_float(name, getattr(self, name), minimum=0.0, maximum=1.0)
        check_float("quantile", self.quantile, minimum=0.01, maximum=0.5)


# ----------------------------------------------------------------------------- measured style


def _ink(images: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)`` in [0, 1] -> ``(N, H, W)`` ink as float64."""
    return images[:, 0].double().clamp(0, 1)


def thickness(images: torch.Tensor) -> torch.Tensor:
    """Stroke thickness in pixels of ``(N, 1, H, W)`` digits in [0, 1]: the ink mass divided
    by the length of the stroke's skeleton (scikit-image's ``skeletonize`` of the picture
    thresholded at 0.5). A "1" and an "8" drawn with the same pen get the same thickness."""
    from skimage.morphology import skeletonize

    ink = _ink(images)
    masks = (ink > 0.5).cpu().numpy()
    lengths = torch.tensor([max(1, int(skeletonize(m).sum())) for m in masks], dtype=torch.float64)
    return (ink.sum((1, 2)).cpu() / lengths).float()


def slant(images: torch.Tensor) -> torch.Tensor:
    """Slant of ``(N, 1, H, W)`` digits: the shear ``mu11 / mu02`` of the ink's second image
    moments (positive: the top leans right), the measure with which MNIST is deskewed."""
    ink = _ink(images).cpu()
    h, w = ink.shape[-2:]
    ys = torch.arange(h, dtype=torch.float64).view(1, h, 1)
    xs = torch.arange(w, dtype=torch.float64).view(1, 1, w)
    mass = ink.sum((1, 2)).clamp_min(1e-9)
    my = (ink * ys).sum((1, 2)) / mass
    mx = (ink * xs).sum((1, 2)) / mass
    dy = ys - my.view(-1, 1, 1)
    dx = xs - mx.view(-1, 1, 1)
    mu11 = (ink * dx * dy).sum((1, 2))
    mu02 = (ink * dy * dy).sum((1, 2)).clamp_min(1e-9)
    return (-mu11 / mu02).float()  # rows grow downwards: a right lean has negative mu11


@dataclass(frozen=True)
class StyleThresholds:
    """Where the style words start, measured on the training digits."""

    thin: float  # thickness below this: "thin"
    bold: float  # thickness above this: "bold"
    upright: float  # |slant| below this: "upright"
    slanted: float  # slant above this (leaning right): "slanted"


def style_thresholds(images: torch.Tensor, quantile: float = 0.25) -> StyleThresholds:
    """The style words' thresholds: the ``quantile`` and ``1 - quantile`` quantiles of the
    thickness and slant of ``images`` (the training digits)."""
    t, s = thickness(images).numpy(), slant(images).numpy()
    return StyleThresholds(
        thin=float(np.quantile(t, quantile)),
        bold=float(np.quantile(t, 1 - quantile)),
        upright=float(np.quantile(np.abs(s), quantile)),
        slanted=float(np.quantile(s, 1 - quantile)),
    )


def style_words(images: torch.Tensor, thresholds: StyleThresholds) -> list[tuple[str, ...]]:
    """The style words that apply to each picture, measured (``()`` for an average one)."""
    t, s = thickness(images), slant(images)
    words = []
    for ti, si in zip(t.tolist(), s.tolist(), strict=True):
        found = []
        if ti < thresholds.thin:
            found.append("thin")
        elif ti > thresholds.bold:
            found.append("bold")
        if abs(si) < thresholds.upright:
            found.append("upright")
        elif si > thresholds.slanted:
            found.append("slanted")
        words.append(tuple(found))
    return words


# ----------------------------------------------------------------------------- defects


def degrade(images: torch.Tensor, defect: str, rng: torch.Generator) -> torch.Tensor:
    """One defect of :data:`DEFECTS` on ``(N, 1, H, W)`` digits in [0, 1], with chapter 2's
    functions and a random strength per call: ``blurry`` (Gaussian blur, sigma 1-1.6 px),
    ``noisy`` (Gaussian pixel noise, sigma 0.2-0.35), ``faint`` (ink scaled to 25-45 %),
    ``pixelated`` (down to 7-9 px with nearest-neighbour, and back up)."""
    from ..preprocess import blur, resize
    from ..profiles import check_choice

    check_choice("defect", defect, DEFECTS)
    u = torch.rand(1, generator=rng).item()
    if defect == "blurry":
        return blur(images, 1.0 + 0.6 * u).clamp(0, 1)
    if defect == "noisy":
        noise = torch.randn(images.shape, generator=rng).to(images)
        return (images + (0.2 + 0.15 * u) * noise).clamp(0, 1)
    if defect == "faint":
        return images * (0.25 + 0.2 * u)
    size = images.shape[-1]
    small = resize(images, 7 + round(2 * u), method="nearest")
    return resize(small, size, method="nearest")


# ----------------------------------------------------------------------------- captions


VOWEL_SOUNDS = ("eight", "upright")  # the words of the vocabulary said with "an"


def crop28(images: torch.Tensor) -> torch.Tensor:
    """``(B, 1, 32, 32)`` pictures -> ``(B, 1, 28, 28)``: the digit without the vae's padding."""
    return images[..., 2:-2, 2:-2] if images.shape[-1] == 32 else images


def with_article(text: str) -> str:
    """``"a eight"`` -> ``"an eight"``, ``"a upright one"`` -> ``"an upright one"``: English
    articles. The tokenizer reads ``"an"`` as ``"a"``, so the model sees the same tokens."""
    import re

    words = "|".join(VOWEL_SOUNDS)
    return re.sub(rf"\ba (?=({words})\b)", "an ", text)


def caption(digit: int | None, styles: tuple[str, ...], defect: str | None) -> str:
    """``"a bold slanted seven, blurry"``: the words in the course's order (style, digit or
    ``"digit"``, then the named defect)."""
    noun = "digit" if digit is None else DIGIT_WORDS[digit]
    text = with_article(" ".join(("a", *styles, noun)))
    return f"{text}, {defect}" if defect else text


@dataclass
class CaptionedDigits:
    """Training pictures (clean and degraded copies) with their captions and what was drawn."""

    images: torch.Tensor  # (N, 1, 28, 28) in [0, 1]
    captions: list[str]
    labels: torch.Tensor  # (N,) the digit drawn
    defects: list[str | None]  # the defect of each copy (named in its caption or not)
    styles: list[tuple[str, ...]]  # the style words that apply (written down or not)
    thresholds: StyleThresholds
    config: CaptionConfig


def captioned_digits(
    config: CaptionConfig, seed: int = 0, limit: int | None = None
) -> CaptionedDigits:
    """``config.copies`` captioned copies of every training digit of ``mnist5k`` (the first
    ``limit`` digits with ``limit``), drawn from a generator seeded with ``seed``."""
    from ..data import load_dataset

    train = load_dataset("mnist5k", "train", seed=0)
    images, labels = train.images, train.labels
    if limit:
        images, labels = images[:limit], labels[:limit]
    thresholds = style_thresholds(train.images, config.quantile)
    measured = style_words(images, thresholds)
    rng = torch.Generator().manual_seed(seed)
    pictures, captions, all_labels, defects, styles = [], [], [], [], []
    for _ in range(config.copies):
        draws = torch.rand(len(images), 5, generator=rng)
        which = torch.randint(len(DEFECTS), (len(images),), generator=rng)
        copy = images.clone()
        copy_defects: list[str | None] = [None] * len(images)
        for k, defect in enumerate(DEFECTS):
            chosen = (draws[:, 0] < config.degraded) & (which == k)
            if chosen.any():
                copy[chosen] = degrade(images[chosen], defect, rng)
                for i in chosen.nonzero().flatten().tolist():
                    copy_defects[i] = defect
        for i in range(len(images)):
            named_style = tuple(w for w in measured[i] if draws[i, 1] < config.name_style)
            digit = int(labels[i]) if draws[i, 2] < config.name_digit else None
            named_defect = copy_defects[i] if draws[i, 3] < config.name_defect else None
            text = caption(digit, named_style, named_defect)
            captions.append("" if draws[i, 4] < config.dropout else text)
        pictures.append(copy)
        all_labels.append(labels)
        defects.extend(copy_defects)
        styles.extend(measured)
    return CaptionedDigits(
        torch.cat(pictures),
        captions,
        torch.cat(all_labels),
        defects,
        styles,
        thresholds,
        config,
    )


def word_counts(captions: list[str]) -> dict[str, int]:
    """How often each vocabulary word appears in ``captions`` (and how many are empty);
    ``"an"`` counts as ``"a"``, as the tokenizer reads it."""
    words = (w for text in captions for w in text.replace(",", " ").split())
    counts = Counter("a" if w == "an" else w for w in words)
    out = {word: counts.get(word, 0) for word in VOCABULARY}
    out["(empty caption)"] = sum(1 for text in captions if not text)
    return out


def describe(config: CaptionConfig) -> dict:
    """The caption configuration as plain values (for the caption card)."""
    return asdict(config)
