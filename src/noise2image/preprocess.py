"""Preprocessing (chapter 2): value ranges, sizes, grey, blur and augmentation.

Every transformation of pictures in the course lives here, once: chapter 2 teaches them,
and the feature network, the metrics and the training loops call the same functions.
Pictures are ``(N, C, H, W)`` tensors, float in ``[0, 1]`` unless a function says otherwise;
random transforms draw from a ``torch.Generator`` called ``rng`` (on the CPU, so that a
seed gives the same pictures on every device).

* value ranges: :func:`to_uint8`, :func:`normalise`, :func:`denormalise`
* size: :func:`resize` (centre crop + antialiased resize)
* colour: :func:`grey` (ITU-R 601 luma weights)
* blur: :func:`blur` (Gaussian), :func:`random_blur` (blur a random share of a batch)
* denoise: :func:`median_filter` (removes specks and pixel noise, keeps edges)
* augmentation: :func:`augment` (flip + shift + rotation, one transform per picture),
  :func:`random_flip`, :func:`random_shift` (whole batches at once, for training loops)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .profiles import check_choice, check_float, check_int

__all__ = [
    "RANGES",
    "GREY_WEIGHTS",
    "to_uint8",
    "normalise",
    "denormalise",
    "resize",
    "grey",
    "blur",
    "random_blur",
    "median_filter",
    "random_flip",
    "random_shift",
    "augment",
]

RANGES = ("unit", "tanh")
GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma: red, green, blue


# ----------------------------------------------------------------------------- value ranges


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """``[0, 1]`` floats -> 0-255 integers, as image files store them."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def normalise(images: torch.Tensor, value_range: str = "tanh") -> torch.Tensor:
    """Map pixels to the range a network expects.

    ``images`` are uint8 (0-255) or float in [0, 1]. ``"unit"`` gives [0, 1] (for a
    Sigmoid output or a classifier); ``"tanh"`` gives [-1, 1] (for a Tanh generator).
    """
    check_choice("value_range", value_range, RANGES)
    unit = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    return unit if value_range == "unit" else unit * 2 - 1


def denormalise(images: torch.Tensor, value_range: str = "tanh") -> torch.Tensor:
    """The inverse of :func:`normalise`: back to [0, 1] for display (clamped)."""
    check_choice("value_range", value_range, RANGES)
    unit = images if value_range == "unit" else (images + 1) / 2
    return unit.clamp(0, 1)


# ----------------------------------------------------------------------------- size and colour


RESIZE_METHODS = ("antialiased", "nearest")


def resize(
    images: torch.Tensor, size: int, crop: float = 1.0, method: str = "antialiased"
) -> torch.Tensor:
    """Centre-crop the central ``crop`` fraction, then resize to ``size`` x ``size``.

    ``"antialiased"``: torchvision's bilinear resize with antialiasing, which averages the
    pixels it merges; ``"nearest"``: keep the nearest pixel and drop the rest (thin strokes
    break up when shrinking). Works on a whole ``(N, C, H, W)`` batch.
    """
    from torchvision.transforms.v2 import functional as TF

    check_int("size", size, minimum=1, maximum=1024)
    check_choice("method", method, RESIZE_METHODS)
    h, w = images.shape[-2:]
    if crop < 1.0:
        images = TF.center_crop(images, [round(h * crop), round(w * crop)])
    if method == "nearest":
        return TF.resize(images, [size, size], interpolation=TF.InterpolationMode.NEAREST)
    return TF.resize(images, [size, size], antialias=True)


def grey(images: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` colour -> ``(N, 1, H, W)`` grey (luma); grey pictures pass unchanged."""
    if images.shape[1] != 3:
        return images
    weights = torch.tensor(GREY_WEIGHTS).to(images).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True)


# ----------------------------------------------------------------------------- blur


def blur(images: torch.Tensor, sigma: float, size: int | None = None) -> torch.Tensor:
    """Gaussian blur of a ``(N, C, H, W)`` batch with standard deviation ``sigma`` pixels.

    The kernel is ``size`` x ``size`` pixels, by default ``2 * round(3 * sigma) + 1``.
    """
    from torchvision.transforms.functional import gaussian_blur

    size = size or 2 * round(3 * sigma) + 1
    return gaussian_blur(images, [size, size], [sigma, sigma])


def random_blur(images: torch.Tensor, share: float, rng: torch.Generator) -> torch.Tensor:
    """Blur a random ``share`` of the pictures with one random sigma in [0.3, 1] pixels.

    A softly drawn digit is still a digit: the feature network trains on these, so its
    confidence (and the recognisability metric) is about *what* a picture shows and the
    clarity score about *how sharp* it is.
    """
    check_float("share", share, minimum=0.0, maximum=1.0)
    if share == 0:
        return images
    chosen = torch.rand(len(images), generator=rng) < share
    sigma = 0.3 + 0.7 * torch.rand(1, generator=rng).item()
    blurred = blur(images, sigma, size=5)
    return torch.where(chosen.to(images.device).view(-1, 1, 1, 1), blurred, images)


def median_filter(images: torch.Tensor) -> torch.Tensor:
    """Each pixel replaced by the median of itself and its 4 neighbours (a 3x3 "plus").

    A median ignores a few outliers, so isolated specks and pixel noise vanish while a step
    edge stays a step (a Gaussian blur would widen it), and unlike a 3x3 square median it
    keeps one-pixel lines. Borders repeat the edge pixels.
    """
    padded = F.pad(images, (1, 1, 1, 1), mode="replicate")
    h, w = images.shape[-2:]
    plus = [padded[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in _PLUS]
    return torch.stack(plus, dim=-1).median(dim=-1).values


_PLUS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


# ----------------------------------------------------------------------------- augmentation


def random_flip(images: torch.Tensor, rng: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each picture left-right with probability ``p`` (emoji, not digits)."""
    flips = torch.rand(len(images), generator=rng) < p
    return torch.where(flips.to(images.device).view(-1, 1, 1, 1), images.flip(-1), images)


def random_shift(images: torch.Tensor, max_shift: int, rng: torch.Generator) -> torch.Tensor:
    """Shift each picture by a random whole number of pixels (zero fill), as a batch."""
    if max_shift == 0:
        return images
    b, c, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=rng)
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=rng)
    rows = (dy.view(b, 1) + torch.arange(h).view(1, h)).view(b, 1, h, 1)
    cols = (dx.view(b, 1) + torch.arange(w).view(1, w)).view(b, 1, 1, w)
    batch = torch.arange(b).view(b, 1, 1, 1)
    channel = torch.arange(c).view(1, c, 1, 1)
    index = [t.to(images.device) for t in (batch, channel, rows, cols)]
    return padded[index[0], index[1], index[2], index[3]]


def augment(
    images: torch.Tensor,
    rng: torch.Generator,
    flip: bool = True,
    max_shift: int = 2,
    max_rotation: float = 10.0,
) -> torch.Tensor:
    """Light, label-preserving augmentation of a batch: flips, small shifts and rotations.

    Each picture gets its own random transform, drawn from ``rng``. Background is
    filled with each picture's corner colour (white for emoji, black for digits).
    """
    from torchvision.transforms.v2 import functional as TF

    out = []
    for image in images:
        if flip and torch.rand(1, generator=rng).item() < 0.5:
            image = TF.horizontal_flip(image)
        angle = (torch.rand(1, generator=rng).item() * 2 - 1) * max_rotation
        dx, dy = torch.randint(-max_shift, max_shift + 1, (2,), generator=rng).tolist()
        fill = image[:, 0, 0].tolist()
        image = TF.affine(image, angle=angle, translate=[dx, dy], scale=1.0, shear=[0.0], fill=fill)
        out.append(image)
    return torch.stack(out)
