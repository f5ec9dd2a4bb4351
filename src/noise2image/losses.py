"""Losses that look at edges and features instead of single pixels (chapters 6 and 7).

Losses (each takes ``output, target`` of shape ``(B, C, H, W)`` and returns a scalar):

* :func:`sharpening_loss`: MSE between the edge maps of output and target; the edge map is
  a 3x3 convolution with a kernel you choose (default: the Laplacian-style
  ``[[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]`` of the original experiment);
* :func:`gradient_difference_loss`: the gradient-difference loss of Mathieu et al. (2016),
  which compares the *size* of the horizontal and vertical differences;
* :class:`PerceptualLoss`: MSE between feature maps of a fixed network, the course feature
  network (offline, the default) or VGG16 with ImageNet weights (a download);
  :func:`layer_costs` tells, offline, what each network's read layers hold and cost.

Chapter 6's experiment that tries them on a generator is :mod:`noise2image.regression`; the
adversarial loss is chapter 4's (:func:`noise2image.gan.generator_loss`).

>>> loss = PerceptualLoss("course")          # offline: the course feature network
>>> loss(output, target)                     # a scalar; loss.per_layer(...) by layer
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .profiles import check_choice, check_float, check_int

__all__ = [
    "KERNELS",
    "edge_map",
    "sharpening_loss",
    "gradient_difference_loss",
    "PERCEPTUAL_NETS",
    "COURSE_LAYERS",
    "VGG16_LAYERS",
    "PerceptualNetUnavailable",
    "PerceptualLoss",
    "layer_costs",
    "relative_change",
]

# ----------------------------------------------------------------------------- edge losses

KERNELS: dict[str, torch.Tensor] = {
    # the kernel of the original experiment: 8 x centre minus the 8 neighbours
    "laplacian": torch.tensor([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
    # the 4-neighbour Laplacian
    "laplacian4": torch.tensor([[0.0, -1, 0], [-1, 4, -1], [0, -1, 0]]),
}


def _kernel(kernel: str | torch.Tensor) -> torch.Tensor:
    if isinstance(kernel, str):
        return KERNELS[check_choice("kernel", kernel, tuple(KERNELS))]
    kernel = torch.as_tensor(kernel, dtype=torch.float32)
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0:
        raise ValueError(
            f"kernel must be a square 2-D tensor of odd size, got {tuple(kernel.shape)}"
        )
    return kernel


def edge_map(images: torch.Tensor, kernel: str | torch.Tensor = "laplacian") -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, C, H, W)``: every channel convolved with ``kernel``.

    Borders are padded by repeating the edge pixels, so a flat picture has no edges.
    """
    from .features import apply_filter

    return apply_filter(images, _kernel(kernel))


def sharpening_loss(
    output: torch.Tensor, target: torch.Tensor, kernel: str | torch.Tensor = "laplacian"
) -> torch.Tensor:
    """MSE between the edge maps of ``output`` and ``target`` (the original's "sharpening loss").

    The edge map is linear in the picture, so this loss is zero for identical pictures and
    grows when the output's edges are weaker (blurred) or misplaced.
    """
    return F.mse_loss(edge_map(output, kernel), edge_map(target, kernel))


def gradient_difference_loss(
    output: torch.Tensor, target: torch.Tensor, alpha: float = 1.0
) -> torch.Tensor:
    """Mean of ``| |dx out| - |dx target| |^alpha`` plus the same for ``dy`` (Mathieu et al.).

    Unlike :func:`sharpening_loss` it compares the *strength* of the differences between
    neighbouring pixels, not their sign, so it is not linear in the picture.
    """
    check_float("alpha", alpha, minimum=0.5, maximum=4.0)

    def term(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a.abs() - b.abs()).abs().pow(alpha).mean()

    dx = term(output.diff(dim=-1), target.diff(dim=-1))
    dy = term(output.diff(dim=-2), target.diff(dim=-2))
    return dx + dy


# ----------------------------------------------------------------------------- perceptual loss

PERCEPTUAL_NETS = ("course", "vgg16")
COURSE_LAYERS = ("block1", "block2", "block3")
# torchvision's vgg16().features indices of the ReLUs used by Johnson et al. (2016)
VGG16_LAYERS = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22}
_VGG_HOST = "download.pytorch.org"
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def relative_change(original: torch.Tensor, changed: torch.Tensor) -> float:
    """How far ``changed`` is from ``original``: their mean squared difference relative to
    ``original``'s mean square (0: unchanged; 1: a change as large as the original itself).
    Comparable across pixels and feature layers of any size."""
    return ((original - changed).pow(2).mean() / original.pow(2).mean()).item()


class PerceptualNetUnavailable(RuntimeError):
    """The requested perceptual network's weights cannot be had (for example offline)."""


def _vgg16_features() -> nn.Module:
    """torchvision's VGG16 convolutional part with ImageNet weights, up to relu4_3.

    Uses the copy in torch's hub cache if there is one; otherwise downloads it, and fails at
    once with :class:`PerceptualNetUnavailable` if the download server cannot be reached.
    """
    from pathlib import Path

    from torchvision.models import VGG16_Weights, vgg16

    from .downloads import reachable

    weights = VGG16_Weights.IMAGENET1K_V1
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not cached.exists() and not reachable(_VGG_HOST):
        raise PerceptualNetUnavailable(
            f"VGG16's ImageNet weights ({cached.name}) are not in torch's hub cache "
            f"(torch.hub.get_dir()) and {_VGG_HOST} cannot be reached (offline?). Use "
            "perceptual_net='course', the course feature network that ships with the "
            "package, or run this where downloads work (Colab)."
        )
    try:
        model = vgg16(weights=weights)
    except Exception as error:  # network error in the middle of the download
        raise PerceptualNetUnavailable(
            f"downloading VGG16's ImageNet weights failed ({error}); use perceptual_net='course'"
        ) from error
    return model.features[: max(VGG16_LAYERS.values()) + 1]


def layer_costs(net: str = "vgg16", size: int = 28) -> list[dict[str, object]]:
    """What a perceptual loss on ``net`` reads from one grey ``size`` x ``size`` picture, and
    what reaching it costs: one dict per layer (:data:`COURSE_LAYERS` or
    :data:`VGG16_LAYERS`) with its output ``shape`` ``(C, H, W)``, the ``weights`` of the
    network up to it and the ``mult_adds`` of its convolutions up to it (BatchNorm, ReLU and
    pooling, a few operations per number, are left out).

    Needs no weights and no network: the architecture (torchvision's ``vgg16(weights=None)``
    for VGG16) is built on PyTorch's ``meta`` device, which holds shapes only, so nothing is
    downloaded, allocated or drawn from the random number generator.
    """
    check_choice("perceptual_net", net, PERCEPTUAL_NETS)
    check_int("size", size, minimum=8, maximum=4096)  # VGG16 pools three times before relu4_3
    with torch.device("meta"):
        if net == "course":
            from .features import FeatureNet

            model = FeatureNet()
            reads = {name: getattr(model, name) for name in COURSE_LAYERS}
            x = torch.zeros(1, 1, size, size)
        else:
            from torchvision.models import vgg16

            model = vgg16(weights=None).features[: max(VGG16_LAYERS.values()) + 1]
            reads = {name: model[index] for name, index in VGG16_LAYERS.items()}
            x = torch.zeros(1, 3, size, size)
        totals = {"weights": 0, "mult_adds": 0}
        rows = []

        def count(module, inputs, output):
            totals["weights"] += sum(p.numel() for p in module.parameters(recurse=False))
            if isinstance(module, nn.Conv2d | nn.Linear):  # per output number: one weight row
                totals["mult_adds"] += output.numel() * module.weight[0].numel()

        def read(name):
            def hook(module, inputs, output):
                rows.append({"layer": name, "shape": tuple(output.shape[1:]), **totals})

            return hook

        hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
        hooks += [module.register_forward_hook(read(name)) for name, module in reads.items()]
        try:
            model.eval()(x)
        finally:
            for hook in hooks:
                hook.remove()
    return rows


class PerceptualLoss(nn.Module):
    """MSE between feature maps of a fixed, pretrained network.

    ``net="course"``: the course feature network (ships with the package; layers
    :data:`COURSE_LAYERS`, default all three). ``net="vgg16"``: torchvision's VGG16 with
    ImageNet weights (downloaded on first use; layers :data:`VGG16_LAYERS`, default
    ``relu1_2`` and ``relu2_2``), raising :class:`PerceptualNetUnavailable` when it cannot be.

    Pictures are ``(B, C, H, W)`` in ``value_range`` (``(0, 1)`` or ``(-1, 1)``); grey
    pictures are repeated to three channels for VGG16, colour ones made grey for the course
    network. ``loss(output, target)`` sums the per-layer MSEs times ``weights``.
    """

    def __init__(
        self,
        net: str = "course",
        layers: Sequence[str] | None = None,
        weights: Sequence[float] | None = None,
        value_range: tuple[float, float] = (0.0, 1.0),
        device: str | torch.device = "cpu",
    ):
        super().__init__()
        self.net_name = check_choice("perceptual_net", net, PERCEPTUAL_NETS)
        allowed = COURSE_LAYERS if net == "course" else tuple(VGG16_LAYERS)
        default = COURSE_LAYERS if net == "course" else ("relu1_2", "relu2_2")
        self.layers = tuple(check_choice("layer", name, allowed) for name in (layers or default))
        self.weights = tuple(weights) if weights is not None else (1.0,) * len(self.layers)
        if len(self.weights) != len(self.layers):
            raise ValueError(f"{len(self.layers)} layers but {len(self.weights)} weights")
        self.value_range = value_range
        if net == "course":
            from .features import load_feature_net

            self.net = load_feature_net()
        else:
            self.net = _vgg16_features()
        # channels_last measurably speeds up these convolutions on a CPU (12 % here)
        self.net = self.net.eval().requires_grad_(False)
        self.net = self.net.to(device=device, memory_format=torch.channels_last)

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.net.eval()  # the feature network always runs in inference mode
        return self

    def features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """The chosen layers' maps for ``images``, by name."""
        low, high = self.value_range
        images = images.to(next(self.net.parameters()).device)
        x = ((images - low) / (high - low)).contiguous(memory_format=torch.channels_last)
        if self.net_name == "course":
            maps = self.net(x, return_features=True)[1]
            return {name: maps[name] for name in self.layers}
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        mean = torch.tensor(_IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(_IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
        x = (x - mean) / std
        wanted = {index: name for name, index in VGG16_LAYERS.items() if name in self.layers}
        out = {}
        for index, layer in enumerate(self.net):
            x = layer(x)
            if index in wanted:
                out[wanted[index]] = x
            if len(out) == len(wanted):
                break
        return out

    @torch.no_grad()
    def relative_change(self, original: torch.Tensor, changed: torch.Tensor) -> dict[str, float]:
        """:func:`relative_change` of every chosen layer's maps, by layer name."""
        a, b = self.features(original), self.features(changed)
        return {name: relative_change(a[name], b[name]) for name in self.layers}

    def per_layer(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """The MSE of every chosen layer, unweighted (for tables)."""
        a = self.features(output)
        with torch.no_grad():
            b = self.features(target)
        return {name: F.mse_loss(a[name], b[name]) for name in self.layers}

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Sum over the chosen layers of weight x MSE between the feature maps of ``output``
        and ``target``; the target's maps are fixed (no gradient), the output's are learnt."""
        a = self.features(output)
        with torch.no_grad():
            b = self.features(target)
        pairs = zip(self.layers, self.weights, strict=True)
        return sum(w * F.mse_loss(a[name], b[name]) for name, w in pairs)
