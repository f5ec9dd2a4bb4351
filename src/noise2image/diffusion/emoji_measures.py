"""What chapter 10 measures on the pictures its model draws: memory and composition.

* **memorisation** (:func:`nearest_training`): for each drawn picture, its nearest training
  picture in pixel space (L2 over the 64 × 64 × 3 values in [0, 1]) and Carlini et al.
  (2023, "Extracting training data from diffusion models", §5)'s *distance ratio*: the
  nearest distance divided by the mean distance to the ``k`` = 50 nearest. A picture far
  closer to one training picture than to its other neighbours is a **near-copy**; the
  course flags a ratio below :data:`NEAR_COPY` = 1/3 (Carlini et al.'s threshold).
* **composition** (:func:`shape_votes`, :func:`has_colour`): whether a picture has the asked
  colour (the measured colour words of :mod:`noise2image.colours` include it) and the asked
  shape: its emoji mask (:func:`noise2image.colours.emoji_mask`) agrees best, by
  intersection over union, with the mean mask of that shape's training pictures among the
  candidate shapes.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import colours

__all__ = ["NEAR_COPY", "nearest_training", "mask_iou", "shape_votes", "COLOUR_WORDS", "has_colour"]

NEAR_COPY = 1 / 3


def _flat(pictures) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(pictures))
    if x.dtype == torch.uint8:
        x = x.float() / 255
    if x.ndim != 4:
        raise ValueError(f"pictures must be a batch (N, 64, 64, 3), not {tuple(x.shape)}")
    if x.shape[-1] == 3:
        x = x.permute(0, 3, 1, 2)
    return x.reshape(len(x), -1).float()


def nearest_training(drawn, training, k: int = 50) -> dict[str, np.ndarray]:
    """For each of ``drawn`` (``(N, 64, 64, 3)`` uint8 or ``(N, 3, 64, 64)`` floats): the
    index of its nearest ``training`` picture, that distance, the distance ratio and whether
    it is a near-copy (ratio < :data:`NEAR_COPY`)."""
    a, b = _flat(drawn), _flat(training)
    k = min(k, len(b))
    index, first, ratio = [], [], []
    for chunk in a.split(256):
        # exact differences (not the matmul shortcut): a copy is at distance 0
        d = torch.cdist(chunk, b, compute_mode="donot_use_mm_for_euclid_dist")
        near, where = d.topk(k, largest=False)
        index.append(where[:, 0])
        first.append(near[:, 0])
        ratio.append(near[:, 0] / near.mean(1).clamp_min(1e-12))
    ratio = torch.cat(ratio).numpy()
    return {
        "nearest": torch.cat(index).numpy(),
        "distance": torch.cat(first).numpy(),
        "ratio": ratio,
        "near copy": ratio < NEAR_COPY,
    }


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 for two empty masks)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def shape_votes(pictures, shapes: dict[str, np.ndarray]) -> list[str]:
    """For each picture, the shape (a key of ``shapes``: name → mean mask ``(H, W)`` in
    [0, 1]) whose mask, thresholded at ½, overlaps its emoji mask best."""
    masks = {name: np.asarray(mean) >= 0.5 for name, mean in shapes.items()}
    out = []
    for picture in np.asarray(pictures):
        mask = colours.emoji_mask(picture)
        out.append(max(masks, key=lambda name: mask_iou(mask, masks[name])))
    return out


COLOUR_WORDS = (*(name for _, name in colours.HUES), "pink", "brown", "black", "white", "grey")
"""The colour words the captions use (measured by :func:`noise2image.colours.colour_words`)."""


def has_colour(pictures, colour: str, least: float = 0.25) -> np.ndarray:
    """Whether each picture's measured colour words include ``colour``."""
    if colour not in COLOUR_WORDS:
        raise ValueError(f"colour must be one of {COLOUR_WORDS}, not {colour!r}")
    return np.array([colour in colours.colour_words(p, least) for p in np.asarray(pictures)])
