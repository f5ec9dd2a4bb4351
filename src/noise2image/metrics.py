"""How good are generated pictures? The course's metrics, defined once.

* :func:`clarity_score` -- 0-100 sharpness, no reference picture needed for the image
  being scored, calibrated so that held-out real images score about 100.
* :func:`fid`, :func:`kid`, :func:`inception_score` -- torchmetrics' implementations
  with the course feature network (:mod:`noise2image.features`) in place of Inception,
  so they run offline on digits. Lower FID/KID is better; IS is between 1 and 10.
* :func:`recognisability` -- the share of pictures the course classifier labels with
  confidence above a threshold. A stated *proxy* for "would a person recognise this
  digit"; it is not user satisfaction, which :mod:`noise2image.widgets` lets a person
  measure directly.
* :func:`evaluate_images` -- all of them for one batch, as one table row.

Clarity, in two measured ingredients (both on the grey image, gradients by central
differences):

1. *Edge steepness* ``s``: at the strongest edges (top 20 % of pixels by coarse-scale
   gradient), the fine-scale gradient (Gaussian sigma 0.5) projected on the coarse-scale
   gradient (sigma 2), relative to the coarse gradient's energy. A sharp step edge has a
   much taller fine-scale gradient than coarse-scale one (``s`` well above 1); blur
   widens every edge and ``s`` falls towards 1.
2. *Edge coherence* ``rho``: the correlation, over all pixels, between fine- and
   coarse-scale gradients. Structure shows at both scales; pixel noise shows only at
   the fine one, so noise lowers ``rho``. This is the guard against noise being
   mistaken for sharpness.

``clarity = 100 * (s - 1) / (s_ref - 1) * min(1, rho / rho_ref) ** 3`` with ``s_ref`` and
``rho_ref`` measured on the reference (held-out real) images.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from .profiles import check_float

__all__ = [
    "ClarityReference",
    "clarity_reference",
    "clarity_score",
    "blur",
    "fid",
    "kid",
    "inception_score",
    "recognisability",
    "evaluate_images",
    "RECOGNISABLE_CONFIDENCE",
]

FINE_SIGMA = 0.5
COARSE_SIGMA = 2.0
EDGE_QUANTILE = 0.8
RECOGNISABLE_CONFIDENCE = 0.9


# ----------------------------------------------------------------------------- clarity


def _grey(images: torch.Tensor) -> torch.Tensor:
    images = images.detach().float().cpu()
    if images.shape[1] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        images = (images * weights).sum(1, keepdim=True)
    return images


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of a ``(N, C, H, W)`` batch with standard deviation ``sigma`` pixels."""
    size = 2 * round(3 * sigma) + 1
    return gaussian_blur(images, [size, size], [sigma, sigma])


def _gradients(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    gx = (images[..., 1:-1, 2:] - images[..., 1:-1, :-2]) / 2
    gy = (images[..., 2:, 1:-1] - images[..., :-2, 1:-1]) / 2
    return gx, gy


def _edge_statistics(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(steepness, coherence) of a batch, aggregated over all its pixels."""
    grey = _grey(images)
    fx, fy = _gradients(blur(grey, FINE_SIGMA))
    cx, cy = _gradients(blur(grey, COARSE_SIGMA))
    coarse = cx**2 + cy**2
    dot = fx * cx + fy * cy
    threshold = torch.quantile(coarse.flatten(1), EDGE_QUANTILE, dim=1).view(-1, 1, 1, 1)
    edges = (coarse >= threshold) & (coarse > 0)
    steepness = dot[edges].sum() / coarse[edges].sum().clamp_min(1e-12)
    coherence = dot.sum() / ((fx**2 + fy**2).sum() * coarse.sum()).sqrt().clamp_min(1e-12)
    return steepness, coherence


@dataclass(frozen=True)
class ClarityReference:
    """Edge steepness and coherence of real held-out images: clarity 100."""

    steepness: float
    coherence: float


def clarity_reference(real_images: torch.Tensor) -> ClarityReference:
    """Measure the calibration point from real held-out images ``(N, C, H, W)`` in [0, 1]."""
    steepness, coherence = _edge_statistics(real_images)
    if steepness <= 1:
        raise ValueError("the reference images have no sharp edges to calibrate on")
    return ClarityReference(float(steepness), float(coherence))


def clarity_score(
    images: torch.Tensor, reference: torch.Tensor | ClarityReference, per_image: bool = False
) -> float | torch.Tensor:
    """Clarity of ``images`` (``(N, C, H, W)`` in [0, 1]) on the scale where ``reference`` is 100.

    ``reference`` is real held-out images of the same kind and size (or a
    :class:`ClarityReference` measured from them). With ``per_image=True`` a tensor of
    N scores is returned instead of the batch's score.
    """
    if not isinstance(reference, ClarityReference):
        reference = clarity_reference(reference)
    if per_image:
        return torch.tensor([clarity_score(image[None], reference) for image in images])
    steepness, coherence = _edge_statistics(images)
    sharp = (float(steepness) - 1) / (reference.steepness - 1)
    coherent = min(1.0, float(coherence) / reference.coherence) ** 3
    return max(0.0, 100 * sharp * coherent)


# ------------------------------------------------------------------------ feature-network metrics


class _Embedding(nn.Module):
    """The feature network's penultimate layer: ``(B, C, H, W)`` -> ``(B, 128)``."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.embed(x.float())


class _Logits(nn.Module):
    """The feature network's class logits: ``(B, C, H, W)`` -> ``(B, 10)``."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float())


def _net(net: nn.Module | None) -> nn.Module:
    if net is None:
        from .features import load_feature_net

        net = load_feature_net()
    return net.eval()


def _batches(images: torch.Tensor, size: int = 500):
    for i in range(0, len(images), size):
        yield images[i : i + size]


@torch.no_grad()
def fid(real: torch.Tensor, fake: torch.Tensor, net: nn.Module | None = None) -> float:
    """Fréchet distance between feature statistics of ``real`` and ``fake`` (lower is better)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    net = _net(net)
    metric = FrechetInceptionDistance(
        feature=_Embedding(net), input_img_size=tuple(real.shape[1:]), reset_real_features=True
    )
    for batch in _batches(real):
        metric.update(batch, real=True)
    for batch in _batches(fake):
        metric.update(batch, real=False)
    return float(metric.compute())


@torch.no_grad()
def kid(
    real: torch.Tensor, fake: torch.Tensor, net: nn.Module | None = None, subsets: int = 50
) -> tuple[float, float]:
    """Kernel distance (mean, std over subsets) between ``real`` and ``fake`` features."""
    from torchmetrics.image.kid import KernelInceptionDistance

    net = _net(net)
    size = min(len(real), len(fake), 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "will save all extracted features"
        metric = KernelInceptionDistance(feature=_Embedding(net), subsets=subsets, subset_size=size)
        for batch in _batches(real):
            metric.update(batch, real=True)
        for batch in _batches(fake):
            metric.update(batch, real=False)
        mean, std = metric.compute()
    return float(mean), float(std)


@torch.no_grad()
def inception_score(images: torch.Tensor, net: nn.Module | None = None) -> float:
    """exp(E KL(p(y|x) || p(y))) with the course classifier: 1 (useless) to 10 (ideal digits)."""
    from torchmetrics.image.inception import InceptionScore

    net = _net(net)
    with warnings.catch_warnings():
        # "will save all extracted features" and "std(): degrees of freedom" (one split)
        warnings.simplefilter("ignore", UserWarning)
        metric = InceptionScore(feature=_Logits(net), splits=1)
        for batch in _batches(images):
            metric.update(batch)
        mean, _ = metric.compute()
    return float(mean)


@torch.no_grad()
def recognisability(
    images: torch.Tensor, net: nn.Module | None = None, threshold: float = RECOGNISABLE_CONFIDENCE
) -> float:
    """Share (0-1) of images whose top class probability is at least ``threshold``.

    A proxy for "a person would recognise this as a digit", not user satisfaction.
    """
    check_float("threshold", threshold, minimum=0.0, maximum=1.0)
    net = _net(net)
    confident = [
        (net(batch.float()).softmax(1).max(1).values >= threshold) for batch in _batches(images)
    ]
    return torch.cat(confident).float().mean().item()


def evaluate_images(
    images: torch.Tensor,
    real: torch.Tensor,
    net: nn.Module | None = None,
    name: str = "images",
    clarity_ref: torch.Tensor | ClarityReference | None = None,
) -> dict[str, float | str]:
    """Every course metric of ``images`` against held-out ``real`` images, as one table row.

    ``clarity_ref`` defaults to ``real``. FID/KID/IS/recognisability use the course
    feature network, which was trained on digits: on other pictures only clarity means much.
    """
    net = _net(net)
    kid_mean, _ = kid(real, images, net)
    return {
        "images": name,
        "n": len(images),
        "clarity": clarity_score(images, real if clarity_ref is None else clarity_ref),
        "FID": fid(real, images, net),
        "KID": kid_mean,
        "IS": inception_score(images, net),
        "recognisable": recognisability(images, net),
    }
