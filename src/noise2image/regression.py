"""Chapter 6's experiment: the blurry generator, trained by regression from noise to digits.

A :class:`SimpleGenerator` (an MLP ``(B, 100) -> (B, 1, 28, 28)``) learns to map noise
vectors to real training digits with the pixel MSE, plus any mix of the losses of
:mod:`noise2image.losses` and, optionally, an adversarial term from chapter 4's
discriminator (:func:`noise2image.gan.discriminator_step`, :func:`noise2image.gan.generator_loss`).
Every run is measured with the course's digit evaluation
(:class:`noise2image.metrics.DigitEvaluator`: clarity, FID, recognisable).

>>> result = train_regression(BASELINE)               # the stated baseline: 20 epochs, lr 1e-3
>>> result.evaluations[20]["clarity"]
>>> rows = ablation(Ablation(sharpen_weights=(0, 0.1), lrs=(1e-3,), epochs=(4, 8)))
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from .gan import NZ, Discriminator, GANConfig, discriminator_step, generator_loss
from .losses import (
    KERNELS,
    PERCEPTUAL_NETS,
    PerceptualLoss,
    gradient_difference_loss,
    sharpening_loss,
)
from .profiles import ParameterError, check_choice, check_float, check_int
from .training import frozen, update_average

__all__ = [
    "SimpleGenerator",
    "PAIRINGS",
    "RegressionConfig",
    "BASELINE",
    "CLAIMED_FIX",
    "ADVERSARY",
    "RegressionResult",
    "train_step",
    "train_regression",
    "Ablation",
    "ablation",
    "mse_minimisers",
]


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

ADVERSARY = GANConfig(dataset="mnist5k", conditional=False)
"""The adversarial term's discriminator: chapter 4's, without labels (and its real label)."""


@dataclass
class RegressionResult:
    """A trained :class:`SimpleGenerator` and what was measured along the way."""

    config: RegressionConfig
    generator: SimpleGenerator
    trace: list[dict]  # one row per epoch: the mean of each loss term, seconds
    evaluations: dict[int, dict] = field(default_factory=dict)  # epoch -> metrics
    samples: dict[int, torch.Tensor] = field(default_factory=dict)  # epoch -> (64, 1, 28, 28)


def train_step(G, opt, real, z, config, perceptual=None, adversary=None) -> dict[str, float]:
    """One update of ``G`` on real digits ``real`` paired with noise ``z`` (both in [-1, 1]).

    The loss is the MSE plus each term ``config`` weights; with ``adversary = (D, opt_d)``,
    the discriminator first takes its own step and is frozen while ``G`` learns from it.
    Returns every term's value.
    """
    fake = G(z)
    terms = {"MSE": F.mse_loss(fake, real)}
    weights = {"MSE": 1.0, "sharpening": config.sharpen_weight}
    weights.update({"gradient difference": config.gradient_weight})
    weights.update(perceptual=config.perceptual_weight, adversarial=config.adversarial_weight)
    if config.sharpen_weight:
        terms["sharpening"] = sharpening_loss(fake, real, config.kernel)
    if config.gradient_weight:
        terms["gradient difference"] = gradient_difference_loss(fake, real)
    if perceptual is not None:
        terms["perceptual"] = perceptual(fake, real)
    with contextlib.ExitStack() as stack:
        if adversary is not None:
            D, opt_d = adversary
            real_cl = real.contiguous(memory_format=torch.channels_last)
            fake_cl = fake.contiguous(memory_format=torch.channels_last)
            discriminator_step(D, opt_d, real_cl, fake_cl, real_label=ADVERSARY.real_label)
            stack.enter_context(frozen(D))
            terms["adversarial"] = generator_loss(D, fake_cl)
        loss = sum(weights[name] * value for name, value in terms.items())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return {name: value.item() for name, value in terms.items()}


def _training_digits(config: RegressionConfig) -> torch.Tensor:
    from .data import load_dataset
    from .preprocess import normalise

    images = normalise(load_dataset("mnist5k", "train", seed=0).images, "tanh")
    return images[: config.limit].contiguous() if config.limit else images


def train_regression(
    config: RegressionConfig,
    evaluate_at: Sequence[int] | None = None,
    progress: bool = True,
    desc: str | None = None,
    device: str | torch.device = "cpu",
) -> RegressionResult:
    """Train a :class:`SimpleGenerator` as ``config`` says on ``device``; evaluate at the
    epochs in ``evaluate_at`` (default: the last one) on 500 fresh noise vectors.

    Runs are deterministic for a given config: with a constant learning rate, the first
    ``k`` epochs of a longer run are exactly a ``k``-epoch run, which :func:`ablation` uses.
    """
    from .metrics import DigitEvaluator
    from .preprocess import denormalise
    from .progress import progress_bar

    evaluate_at = sorted(set(evaluate_at or [config.epochs]))
    for epoch in evaluate_at:
        check_int("evaluate_at epoch", epoch, minimum=1, maximum=config.epochs)
    torch.manual_seed(config.seed)
    rng = torch.Generator().manual_seed(config.seed)
    images = _training_digits(config).to(device)
    G = SimpleGenerator().to(device)
    adversarial = config.adversarial_weight > 0
    betas = (0.5, 0.999) if adversarial else (0.9, 0.999)
    opt = torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas)
    pairs = torch.randn(len(images), NZ, generator=rng) if config.pairing == "fixed" else None
    perceptual = None
    if config.perceptual_weight > 0:
        perceptual = PerceptualLoss(config.perceptual_net, value_range=(-1.0, 1.0), device=device)
    adversary, sampled = None, G
    if adversarial:
        # channels_last: ~45 % more steps per second for this discriminator on a CPU
        D = Discriminator(ADVERSARY).to(device=device, memory_format=torch.channels_last)
        adversary = (D, torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=(0.5, 0.999)))
        sampled = copy.deepcopy(G).requires_grad_(False)  # sampled from, as in chapter 4
    evaluate = DigitEvaluator(device=device)
    eval_z = torch.randn(500, NZ, generator=torch.Generator().manual_seed(30_000 + config.seed))
    result = RegressionResult(config, G, [])
    steps = len(images) // config.batch_size
    bar = progress_bar(
        total=config.epochs * steps, desc=desc or "SimpleGenerator", disable=not progress
    )
    done = 0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        sums: dict[str, float] = {}
        order = torch.randperm(len(images), generator=rng)
        for step in range(steps):
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            z = pairs[index] if pairs is not None else torch.randn(len(index), NZ, generator=rng)
            real, z = images[index.to(device)], z.to(device)
            terms = train_step(G, opt, real, z, config, perceptual, adversary)
            if adversarial:
                done += 1
                update_average(sampled, G, 0.995, step=done)
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value
            bar.update(1)
        row = {"epoch": epoch, **{name: value / steps for name, value in sums.items()}}
        row["seconds"] = time.perf_counter() - started
        result.trace.append(row)
        if epoch in evaluate_at:
            was_training = sampled.training
            sampled.eval()
            with torch.no_grad():
                fake = denormalise(sampled(eval_z.to(device)))
            sampled.train(was_training)
            result.evaluations[epoch] = evaluate(fake)
            result.samples[epoch] = fake[:64].cpu()
    bar.close()
    result.generator = sampled.eval()
    return result


@dataclass(frozen=True)
class Ablation:
    """Chapter 6's ablation grid: every sharpening weight x learning rate, each trained for
    ``max(epochs)`` epochs from ``base`` and measured after each number of ``epochs``.

    The values are checked when the grid is made (a chapter's set-up cell), not hours later.
    """

    sharpen_weights: Sequence[float] = (0.0, 0.01, 0.1, 1.0)
    lrs: Sequence[float] = (1e-3, 1e-4)
    epochs: Sequence[int] = (4, 8)
    base: RegressionConfig = BASELINE

    def __post_init__(self):
        for name in ("sharpen_weights", "lrs", "epochs"):
            if not getattr(self, name):
                raise ParameterError(f"ablation {name} needs at least one value")
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for value in self.sharpen_weights:
            check_float("ablation_weights", value, minimum=0.0)
        for value in self.lrs:
            check_float("ablation_lrs", value, minimum=1e-7, maximum=1.0)
        for value in self.epochs:
            check_int("ablation_epochs", value, minimum=1, maximum=100)

    def configs(self) -> list[RegressionConfig]:
        """One run per (weight, learning rate), trained for ``max(epochs)`` epochs."""
        longest = max(self.epochs)
        return [
            replace(self.base, sharpen_weight=w, lr=lr, epochs=longest)
            for w in self.sharpen_weights
            for lr in self.lrs
        ]


def ablation(
    grid: Ablation, progress: bool = True, device: str | torch.device = "cpu"
) -> list[dict]:
    """Train every run of ``grid`` and measure it after each number of epochs, one row each:
    the three settings, clarity, FID, recognisable, seconds of training.

    The first ``k`` epochs of a longer run *are* a ``k``-epoch run (constant learning rate,
    same seed), so one training per (weight, learning rate) serves every ``k``.
    With ``progress``, one bar counts the runs (the runs draw no bars of their own).
    """
    from .progress import progress_bar

    rows = []
    for config in progress_bar(grid.configs(), desc="ablation runs", disable=not progress):
        result = train_regression(config, evaluate_at=grid.epochs, progress=False, device=device)
        for k in sorted(grid.epochs):
            seconds = sum(row["seconds"] for row in result.trace[:k])
            settings = {"sharpen_weight": config.sharpen_weight, "lr": config.lr, "epochs": k}
            rows.append({**settings, **result.evaluations[k], "seconds": seconds})
    return rows


def mse_minimisers(
    images: torch.Tensor, k: int, n: int = 8, rng: torch.Generator | None = None
) -> torch.Tensor:
    """``n`` pictures, each the mean of ``k`` random ``images``: the one output with the
    smallest MSE to all ``k`` at once, which is what a generator that cannot tell its ``k``
    targets apart learns to draw. ``(n, C, H, W)``."""
    check_int("k", k, minimum=1, maximum=len(images))
    picks = [torch.randperm(len(images), generator=rng)[:k] for _ in range(n)]
    return torch.stack([images[index].mean(0) for index in picks])
