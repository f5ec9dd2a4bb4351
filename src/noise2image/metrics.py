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
* :func:`evaluate_digits` and :class:`DigitEvaluator` -- clarity, FID and recognisability of
  generated digits against held-out test digits: the one evaluation that every digit
  generator of the course (the GAN, chapter 6's regression, the autoencoder) reports.

Where they run: clarity on the CPU (it is cheap, and exact there); the feature-network
metrics on the device of the network, which is loaded onto the pictures' device when no
network is passed. Their statistics (torchmetrics' float64 sums) stay on the CPU.

Clarity, in three measured ingredients, all on the grey picture after a 3x3 "plus" median
filter (:func:`noise2image.preprocess.median_filter`), which removes specks and pixel noise
but keeps edges where they are; gradients by central differences:

1. *Edge steepness* ``s``: at the strongest edges (top 20 % of pixels by coarse-scale
   gradient), the fine-scale gradient (Gaussian sigma 0.5) projected on the coarse-scale
   gradient (sigma 2), relative to the coarse gradient's energy. A sharp step edge has a
   much taller fine-scale gradient than coarse-scale one (``s`` well above 1); blur
   widens every edge and ``s`` falls towards 1.
2. *Edge coherence* ``rho``: the correlation, over all pixels, between fine- and
   coarse-scale gradients. Structure shows at both scales, pixel noise only at the fine one.
3. *Speckle* ``k``: the energy of what the median filter removed, relative to the energy
   of the filtered picture's gradients. Real pictures lose little to the median; noise and
   the speckle of a barely trained generator lose a lot.

``clarity = 100 * (s - 1) / (s_ref - 1) * min(1, rho / rho_ref) ** 3 * min(1, 1.5 k_ref / k)``
with ``s_ref``, ``rho_ref`` and ``k_ref`` measured on the reference (held-out real) images:
speckle up to 1.5 times the real pictures' costs nothing, more divides the score.

Why the median: measured on 500 test digits, the first version (without it) rose when
noise was added to a blurred digit (sigma 1: 72.7, plus noise 0.1: 76.8) because noise
steepens the strongest fine-scale gradients, and it gave a barely trained generator's
speckled blob 81 (real digits: 100). With the median and the speckle term, noise lowers
the score of every blurred picture and the blob scores far below any digit
(``tests/test_metrics.py`` holds these cases).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from .preprocess import blur, grey, median_filter
from .profiles import check_choice, check_float

__all__ = [
    "ClarityStatistics",
    "clarity_statistics",
    "clarity_reference",
    "clarity_score",
    "clarity_factors",
    "edge_statistics",
    "check_pictures",
    "fid",
    "kid",
    "inception_score",
    "recognisability",
    "evaluate_images",
    "DIGIT_METRICS",
    "evaluate_digits",
    "DigitEvaluator",
    "RECOGNISABLE_CONFIDENCE",
]

FINE_SIGMA = 0.5
COARSE_SIGMA = 2.0
EDGE_QUANTILE = 0.8
RECOGNISABLE_CONFIDENCE = 0.9
SPECKLE_TOLERANCE = 1.5


# ----------------------------------------------------------------------------- clarity


def _gradients(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    gx = (images[..., 1:-1, 2:] - images[..., 1:-1, :-2]) / 2
    gy = (images[..., 2:, 1:-1] - images[..., :-2, 1:-1]) / 2
    return gx, gy


def edge_statistics(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(steepness, coherence) of a batch, aggregated over all its pixels: the two
    ingredients of :func:`clarity_score` (computed on the CPU, in grey)."""
    pictures = grey(images.detach().float().cpu())
    fx, fy = _gradients(blur(pictures, FINE_SIGMA))
    cx, cy = _gradients(blur(pictures, COARSE_SIGMA))
    coarse = cx**2 + cy**2
    dot = fx * cx + fy * cy
    threshold = torch.quantile(coarse.flatten(1), EDGE_QUANTILE, dim=1).view(-1, 1, 1, 1)
    edges = (coarse >= threshold) & (coarse > 0)
    steepness = dot[edges].sum() / coarse[edges].sum().clamp_min(1e-12)
    coherence = dot.sum() / ((fx**2 + fy**2).sum() * coarse.sum()).sqrt().clamp_min(1e-12)
    return steepness, coherence


@dataclass(frozen=True)
class ClarityStatistics:
    """The three ingredients of clarity for a batch (of real pictures: its 100 point)."""

    steepness: float
    coherence: float
    speckle: float


def clarity_statistics(images: torch.Tensor) -> ClarityStatistics:
    """Steepness and coherence of the edges of the median-filtered grey pictures, and the
    speckle the median filter removed, for a batch ``(N, C, H, W)`` in [0, 1] (on the CPU)."""
    pictures = grey(images.detach().float().cpu())
    smooth = median_filter(pictures)
    steepness, coherence = edge_statistics(smooth)
    gx, gy = _gradients(smooth)
    removed = (pictures - smooth).pow(2).mean()
    speckle = removed / (gx**2 + gy**2).mean().clamp_min(1e-12)
    return ClarityStatistics(float(steepness), float(coherence), float(speckle))


def clarity_reference(real_images: torch.Tensor) -> ClarityStatistics:
    """Measure the calibration point from real held-out images ``(N, C, H, W)`` in [0, 1]."""
    reference = clarity_statistics(real_images)
    if reference.steepness <= 1:
        raise ValueError("the reference images have no sharp edges to calibrate on")
    return reference


def clarity_score(
    images: torch.Tensor, reference: torch.Tensor | ClarityStatistics, per_image: bool = False
) -> float | torch.Tensor:
    """Clarity of ``images`` (``(N, C, H, W)`` in [0, 1]) on the scale where ``reference`` is 100.

    ``reference`` is real held-out images of the same kind and size (or their
    :func:`clarity_reference`). With ``per_image=True`` a tensor of N scores is returned
    instead of the batch's score.
    """
    if not isinstance(reference, ClarityStatistics):
        reference = clarity_reference(reference)
    if per_image:
        return torch.tensor([clarity_score(image[None], reference) for image in images])
    measured = clarity_statistics(images)
    sharp, coherent = clarity_factors(
        measured.steepness, measured.coherence, reference.steepness, reference.coherence
    )
    clean = min(1.0, SPECKLE_TOLERANCE * reference.speckle / max(measured.speckle, 1e-12))
    return max(0.0, 100 * sharp * coherent * clean)


def clarity_factors(
    steepness: float, coherence: float, reference_steepness: float, reference_coherence: float
) -> tuple[float, float]:
    """Clarity's first two factors: how steep the edges are on the reference's scale
    (1: as steep as the real pictures) and how coherent, relative to the reference, capped
    at 1 and cubed. :func:`clarity_score` is ``100 × sharp × coherent × clean``."""
    sharp = (float(steepness) - 1) / (float(reference_steepness) - 1)
    coherent = min(1.0, float(coherence) / float(reference_coherence)) ** 3
    return sharp, coherent


# ------------------------------------------------------------------------ feature-network metrics


def _device(net: nn.Module) -> torch.device:
    return next(net.parameters()).device


class _Embedding(nn.Module):
    """The feature network's penultimate layer: ``(B, C, H, W)`` -> ``(B, 128)``, computed on
    the network's device and handed to torchmetrics on the CPU."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.embed(x.to(_device(self.net)).float()).cpu()


class _Logits(nn.Module):
    """The feature network's class logits: ``(B, C, H, W)`` -> ``(B, 10)``, likewise."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.to(_device(self.net)).float()).cpu()


def _net(net: nn.Module | None, images: torch.Tensor) -> nn.Module:
    """``net``, or the course feature network on the device of ``images``."""
    if net is None:
        from .features import load_feature_net

        net = load_feature_net(device=images.device)
    return net.eval()


@contextmanager
def _own_randomness(seed: int = 0):
    """torchmetrics' KID and IS draw from torch's global generator: inside this block they
    draw from a fixed seed instead, so their value does not depend on what a notebook ran
    before (training, or loading from the cache), and the caller's generator is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def check_pictures(name: str, images: torch.Tensor) -> torch.Tensor:
    """Refuse pictures holding NaN or infinity before a metric sees them: in the matrix
    square root of FID, NaN reaching MKL can kill the process instead of raising."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of pictures, not {type(images).__name__}")
    if images.is_floating_point() and not torch.isfinite(images).all():
        bad = int((~torch.isfinite(images)).flatten(1).any(1).sum())
        raise ValueError(
            f"{name}: {bad} of {len(images)} pictures hold NaN or infinity (a diverged "
            "training or an overflowing guidance scale?): no metric is computed from them"
        )
    return images


def _batches(images: torch.Tensor, size: int = 500):
    for i in range(0, len(images), size):
        yield images[i : i + size]


@torch.no_grad()
def fid(real: torch.Tensor, fake: torch.Tensor, net: nn.Module | None = None) -> float:
    """Fréchet distance between feature statistics of ``real`` and ``fake`` (lower is better)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    check_pictures("real", real), check_pictures("fake", fake)
    net = _net(net, fake)
    real, fake = real.cpu(), fake.cpu()
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

    check_pictures("real", real), check_pictures("fake", fake)
    net = _net(net, fake)
    real, fake = real.cpu(), fake.cpu()
    size = min(len(real), len(fake), 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "will save all extracted features"
        metric = KernelInceptionDistance(feature=_Embedding(net), subsets=subsets, subset_size=size)
        for batch in _batches(real):
            metric.update(batch, real=True)
        for batch in _batches(fake):
            metric.update(batch, real=False)
        with _own_randomness():  # KID draws its random subsets here
            mean, std = metric.compute()
    return float(mean), float(std)


@torch.no_grad()
def inception_score(images: torch.Tensor, net: nn.Module | None = None) -> float:
    """exp(E KL(p(y|x) || p(y))) with the course classifier: 1 (useless) to 10 (ideal digits)."""
    from torchmetrics.image.inception import InceptionScore

    check_pictures("images", images)
    net = _net(net, images)
    images = images.cpu()
    with warnings.catch_warnings():
        # "will save all extracted features" and "std(): degrees of freedom" (one split)
        warnings.simplefilter("ignore", UserWarning)
        metric = InceptionScore(feature=_Logits(net), splits=1)
        for batch in _batches(images):
            metric.update(batch)
        with _own_randomness():  # IS shuffles the pictures here
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
    check_pictures("images", images)
    net = _net(net, images)
    device = _device(net)
    confident = [
        (net(batch.to(device).float()).softmax(1).max(1).values >= threshold).cpu()
        for batch in _batches(images)
    ]
    return torch.cat(confident).float().mean().item()


def evaluate_images(
    images: torch.Tensor,
    real: torch.Tensor,
    net: nn.Module | None = None,
    name: str = "images",
    clarity_ref: torch.Tensor | ClarityStatistics | None = None,
) -> dict[str, float | str]:
    """Every course metric of ``images`` against held-out ``real`` images, as one table row.

    ``clarity_ref`` defaults to ``real``. FID/KID/IS/recognisability use the course
    feature network, which was trained on digits: on other pictures only clarity means much.
    """
    net = _net(net, images)
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


# ----------------------------------------------------------------------------- generated digits

DIGIT_METRICS = ("clarity", "FID", "recognisable")


def evaluate_digits(
    fake: torch.Tensor,
    real: torch.Tensor,
    net: nn.Module | None = None,
    reference: ClarityStatistics | None = None,
    metrics: Sequence[str] = DIGIT_METRICS,
) -> dict[str, float]:
    """The course's numbers for generated digits ``fake`` in [0, 1] against held-out ``real``
    ones: clarity (on the scale where ``reference``, default ``real``, is 100), FID and
    recognisable (0-1), or the subset named in ``metrics``, in that order."""
    for name in metrics:
        check_choice("metric", name, DIGIT_METRICS)
    out = {}
    if "clarity" in metrics:
        out["clarity"] = clarity_score(fake, real if reference is None else reference)
    if "FID" in metrics:
        out["FID"] = fid(real, fake, net)
    if "recognisable" in metrics:
        out["recognisable"] = recognisability(fake, net)
    return out


class DigitEvaluator:
    """:func:`evaluate_digits` against the first ``n`` test digits, set up once per run.

    Every digit generator of the course reports through one of these after its epochs
    (the GAN's trace, chapter 6's regression runs, the autoencoder's reconstructions):

    >>> evaluate = DigitEvaluator(metrics=("FID", "recognisable"))
    >>> evaluate(pictures)        # {"FID": ..., "recognisable": ...}
    """

    def __init__(
        self,
        n: int = 500,
        metrics: Sequence[str] = DIGIT_METRICS,
        device: str | torch.device | None = None,
    ):
        from .data import load_dataset
        from .features import load_feature_net

        self.metrics = tuple(metrics)
        self.net = load_feature_net(device=device)
        self.real = load_dataset("mnist5k", "test", seed=0).images[:n]
        self.reference = clarity_reference(self.real) if "clarity" in self.metrics else None

    @torch.no_grad()
    def __call__(self, fake: torch.Tensor) -> dict[str, float]:
        """The numbers of ``fake``, digits in [0, 1] on any device."""
        return evaluate_digits(fake, self.real, self.net, self.reference, self.metrics)
