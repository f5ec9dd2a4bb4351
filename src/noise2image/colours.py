"""Colour words measured on the pixels of an emoji, for captions that are measured, never
invented (as chapter 8 measures stroke thickness for its style words).

A picture (``(H, W, 3)``, uint8 or floats in [0, 1], drawn on white as OpenMoji is) is read
in three steps:

1. **the emoji's own pixels**: everything except the white background that touches the
   border (a white heart's white inside counts; the page around it does not);
2. **the outline left out**: OpenMoji draws every shape with a black outline, so pixels
   darker than ``OUTLINE_L`` are not ink colour;
3. **each ink pixel named** in CIELAB (sRGB, D65): a pixel with chroma ``C*`` below
   ``GREY_CHROMA`` is black, grey or white by its lightness ``L*``; any other by its hue
   angle ``h = atan2(b*, a*)`` (:data:`HUES`), with dark oranges and yellows called brown
   and light reds called pink.

The thresholds were set on OpenMoji's own palette, as the course renders it: its coloured
hearts, circles and squares each read as their own colour (``tests/test_colours.py``).

>>> colour_words(picture)                 # the colours covering at least 25 % of the ink
['red']
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "HUES",
    "PINK_HUES",
    "GREY_CHROMA",
    "OUTLINE_L",
    "to_lab",
    "emoji_mask",
    "pixel_colours",
    "ink_colours",
    "colour_words",
]

HUES = (
    (48.0, "red"),
    (80.0, "orange"),
    (105.0, "yellow"),
    (200.0, "green"),
    (295.0, "blue"),
    (345.0, "purple"),
)
"""Upper hue bounds (degrees) and the colour from the previous bound up to each; hues from
:data:`PINK_HUES` wrap round 0° and are pink, or red when darker than :data:`PINK_L`."""
PINK_HUES = (345.0, 20.0)
GREY_CHROMA = 12.0
"""Below this chroma a pixel has no hue: black (``L*`` < 30), grey (< 80) or white."""
OUTLINE_L = 12.0
"""Pixels darker than this are the black outline OpenMoji draws round every shape."""
PINK_L = 60.0
"""Reds lighter than this are pink."""
BROWN_L = 45.0
"""Oranges and yellows darker than this are brown."""
BACKGROUND = (93.0, 6.0)
"""A background pixel: ``L*`` above 93 and chroma below 6 (near-white)."""


def _as_float(picture) -> np.ndarray:
    array = np.asarray(picture)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"picture must be (H, W, 3) RGB, not shape {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float64) / 255.0
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError("picture holds NaN or infinity")
    if array.min() < 0 or array.max() > 1:
        raise ValueError("a float picture must lie in [0, 1] (or pass uint8 0-255)")
    return array


def to_lab(picture) -> np.ndarray:
    """CIELAB ``(H, W, 3)`` (``L*`` 0-100, ``a*``, ``b*``) of an sRGB picture, white D65."""
    rgb = _as_float(picture)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    matrix = np.array(
        [[0.4124564, 0.3575761, 0.1804375],
         [0.2126729, 0.7151522, 0.0721750],
         [0.0193339, 0.1191920, 0.9503041]]
    )  # fmt: skip
    xyz = linear @ matrix.T / np.array([0.95047, 1.0, 1.08883])
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


def emoji_mask(picture) -> np.ndarray:
    """``(H, W)`` booleans: the emoji's own pixels, i.e. all but the near-white background
    connected to the picture's border."""
    from scipy import ndimage

    lab = to_lab(picture)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    white = (lab[..., 0] > BACKGROUND[0]) & (chroma < BACKGROUND[1])
    labels, _ = ndimage.label(white)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outside = np.isin(labels, border[border > 0])
    return ~outside


def pixel_colours(lab: np.ndarray) -> np.ndarray:
    """The colour name of every pixel of a CIELAB array (:func:`to_lab`)."""
    lightness, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a)) % 360
    names = np.full(lightness.shape, "purple", dtype=object)
    for bound, name in reversed(HUES):
        names[hue < bound] = name
    pinkish = (hue >= PINK_HUES[0]) | (hue < PINK_HUES[1])
    names[pinkish] = np.where(lightness[pinkish] >= PINK_L, "pink", "red")
    light_red = (names == "red") & (lightness >= PINK_L + 10)
    names[light_red] = "pink"
    dark = (names == "orange") | (names == "yellow")
    names[dark & (lightness < BROWN_L)] = "brown"
    grey = chroma < GREY_CHROMA
    names[grey] = np.where(
        lightness[grey] < 30, "black", np.where(lightness[grey] < 80, "grey", "white")
    )
    return names


def ink_colours(picture) -> list[tuple[str, float]]:
    """Each colour of the emoji's ink and its share of the ink (outline left out), largest
    first: ``[("red", 0.93), ("white", 0.05), ...]``. Empty for a blank picture."""
    lab = to_lab(picture)
    ink = emoji_mask(picture) & (lab[..., 0] >= OUTLINE_L)
    if not ink.any():
        return []
    names, counts = np.unique(pixel_colours(lab)[ink], return_counts=True)
    order = np.argsort(-counts, kind="stable")
    total = counts.sum()
    return [(str(names[i]), float(counts[i] / total)) for i in order]


def colour_words(picture, least: float = 0.25) -> list[str]:
    """The colours that cover at least ``least`` of the emoji's ink, largest first: the
    colour words of its caption."""
    from .profiles import check_float

    check_float("least", least, minimum=0.0, maximum=1.0)
    return [name for name, share in ink_colours(picture) if share >= least]
