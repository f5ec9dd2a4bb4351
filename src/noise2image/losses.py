"""Losses that look at edges and features instead of single pixels, and the blurry-generator
experiment of chapter 6 that they are tested on.

Losses (each takes ``output, target`` of shape ``(B, C, H, W)`` and returns a scalar):

* :func:`sharpening_loss`: MSE between the edge maps of output and target; the edge map is
  a 3x3 convolution with a kernel you choose (default: the Laplacian-style
  ``[[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]`` of the original experiment);
* :func:`gradient_difference_loss`: the gradient-difference loss of Mathieu et al. (2016),
  which compares the *size* of the horizontal and vertical differences;
* :class:`PerceptualLoss`: MSE between feature maps of a fixed network, the course feature
  network (offline, the default) or VGG16 with ImageNet weights (a download).

The experiment: a :class:`SimpleGenerator` (an MLP ``(B, 100) -> (B, 1, 28, 28)``) trained by
regression from noise vectors to real digits, with any mix of the losses above and,
optionally, an adversarial term from chapter 4's discriminator.

>>> result = train_regression(RegressionConfig(epochs=20, lr=1e-3))   # the stated baseline
>>> result.evaluations[20]["clarity"]
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

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
    "SimpleGenerator",
    "PAIRINGS",
    "RegressionConfig",
    "BASELINE",
    "CLAIMED_FIX",
    "RegressionResult",
    "train_regression",
    "ablation",
    "evaluate_digits",
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


class PerceptualNetUnavailable(RuntimeError):
    """The requested perceptual network's weights cannot be had (for example offline)."""


def _vgg16_features() -> nn.Module:
    """torchvision's VGG16 convolutional part with ImageNet weights, up to relu4_3.

    Uses the copy in torch's hub cache if there is one; otherwise downloads it, and fails at
    once with :class:`PerceptualNetUnavailable` if the download server cannot be reached.
    """
    from pathlib import Path

    from torchvision.models import VGG16_Weights, vgg16

    from .data import _reachable

    weights = VGG16_Weights.IMAGENET1K_V1
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not cached.exists() and not _reachable(_VGG_HOST):
        raise PerceptualNetUnavailable(
            f"VGG16's ImageNet weights are not in {cached.parent} and {_VGG_HOST} cannot be "
            "reached (offline?). Use perceptual_net='course', the course feature network "
            "that ships with the package, or run this where downloads work (Colab)."
        )
    try:
        model = vgg16(weights=weights)
    except Exception as error:  # network error in the middle of the download
        raise PerceptualNetUnavailable(
            f"downloading VGG16's ImageNet weights failed ({error}); use perceptual_net='course'"
        ) from error
    return model.features[: max(VGG16_LAYERS.values()) + 1]


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
        self.net = self.net.eval().requires_grad_(False).to(memory_format=torch.channels_last)

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.net.eval()  # the feature network always runs in inference mode
        return self

    def features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """The chosen layers' maps for ``images``, by name."""
        low, high = self.value_range
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

    def per_layer(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """The MSE of every chosen layer, unweighted (for tables)."""
        a = self.features(output)
        with torch.no_grad():
            b = self.features(target)
        return {name: F.mse_loss(a[name], b[name]) for name in self.layers}

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        losses = self.per_layer(output, target)
        return sum(w * losses[name] for name, w in zip(self.layers, self.weights, strict=True))


# ----------------------------------------------------------------------------- the experiment

NZ = 100


class SimpleGenerator(nn.Module):
    """The experiment's generator, an MLP: ``(B, 100) -> (B, 1, 28, 28)`` in [-1, 1].

    100 -> 256 -> 512 -> 1024 -> 784 with ReLU between the layers and a final Tanh,
    reshaped to one 28x28 channel (1,486,352 weights).
    """

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(NZ, 256),
            nn.ReLU(),
            nn.Linear(256, 512),
            nn.ReLU(),
            nn.Linear(512, 1024),
            nn.ReLU(),
            nn.Linear(1024, 28 * 28),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, 28, 28)


PAIRINGS = ("random", "fixed")


@dataclass(frozen=True)
class RegressionConfig:
    """How a :class:`SimpleGenerator` is trained from noise to real digits.

    ``pairing="random"`` draws fresh noise for every batch of real digits (the usual
    classroom loop); ``"fixed"`` gives every training digit its own noise vector, drawn
    once, so the pairs are a fixed data set. The loss is
    ``MSE + sharpen_weight * sharpening_loss + gradient_weight * gradient_difference_loss
    + perceptual_weight * PerceptualLoss + adversarial_weight * non-saturating GAN loss``
    (chapter 4's discriminator).
    ``limit`` trains on the first ``limit`` training digits (smoke runs only).
    """

    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 64
    sharpen_weight: float = 0.0
    kernel: str = "laplacian"
    gradient_weight: float = 0.0
    perceptual_weight: float = 0.0
    perceptual_net: str = "course"
    adversarial_weight: float = 0.0
    lr_d: float = 2e-4
    pairing: str = "random"
    seed: int = 0
    limit: int | None = None

    def __post_init__(self):
        check_int("epochs", self.epochs, minimum=1, maximum=1000)
        check_float("lr", self.lr, minimum=1e-7, maximum=1.0)
        check_int("batch_size", self.batch_size, minimum=1, maximum=4096)
        check_float("sharpen_weight", self.sharpen_weight, minimum=0.0)
        check_choice("kernel", self.kernel, tuple(KERNELS))
        check_float("gradient_weight", self.gradient_weight, minimum=0.0)
        check_float("perceptual_weight", self.perceptual_weight, minimum=0.0)
        check_choice("perceptual_net", self.perceptual_net, PERCEPTUAL_NETS)
        check_float("adversarial_weight", self.adversarial_weight, minimum=0.0)
        check_float("lr_d", self.lr_d, minimum=1e-7, maximum=1.0)
        check_choice("pairing", self.pairing, PAIRINGS)
        check_int("seed", self.seed, minimum=0)
        if self.limit is not None:
            check_int("limit", self.limit, minimum=self.batch_size)


BASELINE = RegressionConfig(epochs=20, lr=1e-3)
"""The original experiment's starting point: MSE only, 20 epochs, learning rate 1e-3."""

CLAIMED_FIX = RegressionConfig(epochs=50, lr=1e-4, sharpen_weight=0.1)
"""The original's fix: 50 epochs, learning rate 1e-4, sharpening loss with weight 0.1."""


@dataclass
class RegressionResult:
    """A trained :class:`SimpleGenerator` and what was measured along the way."""

    config: RegressionConfig
    generator: SimpleGenerator
    trace: list[dict]  # one row per epoch: the mean of each loss term, seconds
    evaluations: dict[int, dict] = field(default_factory=dict)  # epoch -> metrics
    samples: dict[int, torch.Tensor] = field(default_factory=dict)  # epoch -> (64, 1, 28, 28)


class _DigitEvaluation:
    """Clarity, FID and recognisability of 500 generated digits against the test split."""

    def __init__(self, n: int = 500, seed: int = 0):
        from .data import load_dataset
        from .features import load_feature_net
        from .metrics import clarity_reference

        self.net = load_feature_net()
        self.real = load_dataset("mnist5k", "test", seed=0).images[:n]
        self.reference = clarity_reference(self.real)
        self.z = torch.randn(n, NZ, generator=torch.Generator().manual_seed(30_000 + seed))

    @torch.no_grad()
    def __call__(self, G: nn.Module) -> tuple[dict, torch.Tensor]:
        from .data import denormalise

        was_training = G.training
        G.eval()
        fake = denormalise(G(self.z))
        G.train(was_training)
        return evaluate_digits(fake, self.real, self.net, self.reference), fake[:64]


def evaluate_digits(fake, real, net=None, reference=None) -> dict:
    """The experiment's three numbers for digits in [0, 1]: clarity, FID, recognisable (0-1)."""
    from .metrics import clarity_score, fid, recognisability

    return {
        "clarity": clarity_score(fake, real if reference is None else reference),
        "FID": fid(real, fake, net),
        "recognisable": recognisability(fake, net),
    }


def _training_digits(config: RegressionConfig) -> torch.Tensor:
    from .data import load_dataset, normalise

    images = normalise(load_dataset("mnist5k", "train", seed=0).images, "tanh")
    return images[: config.limit].contiguous() if config.limit else images


def train_regression(
    config: RegressionConfig,
    evaluate_at: Sequence[int] | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> RegressionResult:
    """Train a :class:`SimpleGenerator` as ``config`` says; evaluate at the epochs in
    ``evaluate_at`` (default: the last one) on 500 fresh noise vectors.

    Runs are deterministic for a given config: with a constant learning rate, the first
    ``k`` epochs of a longer run are exactly a ``k``-epoch run, which :func:`ablation` uses.
    """
    from .progress import progress_bar

    evaluate_at = sorted(set(evaluate_at or [config.epochs]))
    for epoch in evaluate_at:
        check_int("evaluate_at epoch", epoch, minimum=1, maximum=config.epochs)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    images = _training_digits(config)
    G = SimpleGenerator()
    adversarial = config.adversarial_weight > 0
    betas = (0.5, 0.999) if adversarial else (0.9, 0.999)
    opt = torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas)
    pairs = torch.randn(len(images), NZ, generator=generator) if config.pairing == "fixed" else None
    perceptual = (
        PerceptualLoss(config.perceptual_net, value_range=(-1.0, 1.0))
        if config.perceptual_weight > 0
        else None
    )
    if adversarial:
        from .gan import Discriminator, GANConfig, update_average

        D = Discriminator(GANConfig(dataset="mnist5k", conditional=False))
        # channels_last: ~45 % more steps per second for this discriminator on a CPU
        D = D.to(memory_format=torch.channels_last)
        opt_d = torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=(0.5, 0.999))
        G_avg = copy.deepcopy(G).requires_grad_(False)  # sampled from, as in chapter 4
    evaluation = _DigitEvaluation(seed=config.seed)
    result = RegressionResult(config, G, [])
    steps = len(images) // config.batch_size
    bar = progress_bar(
        total=config.epochs * steps, desc=desc or "SimpleGenerator", disable=not progress
    )
    done = 0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        sums: dict[str, float] = {}
        order = torch.randperm(len(images), generator=generator)
        for step in range(steps):
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            real = images[index]
            z = (
                pairs[index]
                if pairs is not None
                else torch.randn(len(real), NZ, generator=generator)
            )
            fake = G(z)
            terms = {"MSE": F.mse_loss(fake, real)}
            if config.sharpen_weight:
                terms["sharpening"] = sharpening_loss(fake, real, config.kernel)
            if config.gradient_weight:
                terms["gradient difference"] = gradient_difference_loss(fake, real)
            if perceptual is not None:
                terms["perceptual"] = perceptual(fake, real)
            if adversarial:
                b = len(real)
                real_cl = real.contiguous(memory_format=torch.channels_last)
                fake_cl = fake.contiguous(memory_format=torch.channels_last)
                logits_real, logits_fake = D(real_cl), D(fake_cl.detach())
                loss_d = F.binary_cross_entropy_with_logits(
                    logits_real, torch.full((b,), 0.9)
                ) + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros(b))
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                D.requires_grad_(False)
                terms["adversarial"] = F.binary_cross_entropy_with_logits(D(fake_cl), torch.ones(b))
            loss = (
                terms["MSE"]
                + config.sharpen_weight * terms.get("sharpening", 0.0)
                + config.gradient_weight * terms.get("gradient difference", 0.0)
                + config.perceptual_weight * terms.get("perceptual", 0.0)
                + config.adversarial_weight * terms.get("adversarial", 0.0)
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if adversarial:
                D.requires_grad_(True)
                done += 1
                update_average(G_avg, G, min(0.995, (1 + done) / (10 + done)))
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value.item()
            bar.update(1)
        row = {"epoch": epoch, **{name: value / steps for name, value in sums.items()}}
        row["seconds"] = time.perf_counter() - started
        result.trace.append(row)
        if epoch in evaluate_at:
            metrics, samples = evaluation(G_avg if adversarial else G)
            result.evaluations[epoch] = metrics
            result.samples[epoch] = samples
    bar.close()
    if adversarial:
        result.generator = G_avg
    result.generator.eval()
    return result


def ablation(
    sharpen_weights: Sequence[float],
    lrs: Sequence[float],
    epochs: Sequence[int],
    base: RegressionConfig = BASELINE,
    progress: bool = True,
) -> list[dict]:
    """Every combination of sharpening weight x learning rate x epochs, one row each.

    One run per (weight, learning rate) is trained for ``max(epochs)`` epochs and measured
    after each number of epochs in ``epochs`` (the first ``k`` epochs of a longer run *are*
    a ``k``-epoch run: constant learning rate, same seed). Rows: the three settings,
    clarity, FID, recognisable, seconds of training.
    """
    from dataclasses import replace

    rows = []
    runs = [(w, lr) for w in sharpen_weights for lr in lrs]
    for number, (weight, lr) in enumerate(runs, 1):
        config = replace(base, sharpen_weight=weight, lr=lr, epochs=max(epochs))
        result = train_regression(
            config, evaluate_at=epochs, progress=progress, desc=f"run {number}/{len(runs)}"
        )
        for k in sorted(epochs):
            seconds = sum(row["seconds"] for row in result.trace[:k])
            rows.append(
                {
                    "sharpen_weight": weight,
                    "lr": lr,
                    "epochs": k,
                    **result.evaluations[k],
                    "seconds": seconds,
                }
            )
    return rows
