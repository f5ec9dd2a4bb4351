"""Training a GAN (chapter 4): the game between a generator and a discriminator, and its loop.

Two players (Goodfellow et al., 2014; the DCGAN architecture of Radford et al., 2015):

* the generator ``G`` maps a noise vector ``z`` (1x100) -- and, in the class-conditional
  version, a digit label -- to a picture in [-1, 1] (Tanh output);
* the discriminator ``D`` maps a picture (and the label) to one logit: real or fake.

``D`` is trained to tell real from generated pictures, ``G`` to make ``D`` say "real".
The two networks (DCGAN's) are in :mod:`noise2image.gan_nets` and exported here; sampling
from a trained generator, and the shipped GANs, are in :mod:`noise2image.generate`.

>>> config = GANConfig(dataset="mnist5k", epochs=10)
>>> result = train_or_load(config, device="cpu")   # trains, or loads a cached checkpoint
>>> from noise2image.generate import sample
>>> pictures = sample(result.generator, 16, seed=0)   # (16, 1, 28, 28) in [-1, 1]

The pieces of the game are public and short, so that chapter 4 can show them and chapter 6
can reuse them: :func:`discriminator_step` (one update of ``D``), :func:`generator_loss` and
:func:`train_step` (one round); :mod:`noise2image.training` has the moving average and the
resumable checkpoints that every training loop shares.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .checkpoints import cache_dir, config_key
from .gan_nets import N_CLASSES, NZ, Discriminator, Generator, init_weights, layer_table
from .profiles import ParameterError, check_choice, check_float, check_int
from .training import frozen, load_finished, resume, save_progress, update_average

__all__ = [
    "NZ",
    "N_CLASSES",
    "FAILURES",
    "GANConfig",
    "replace",
    "Generator",
    "Discriminator",
    "init_weights",
    "layer_table",
    "discriminator_step",
    "generator_loss",
    "train_step",
    "train_gan",
    "train_or_load",
    "checkpoint_path",
    "GANResult",
]

DATASETS = ("mnist5k", "openmoji")
FAILURES = ("none", "strong_discriminator", "mode_collapse")


@dataclass(frozen=True)
class GANConfig:
    """Everything that defines a GAN run; the checkpoint cache is keyed on it.

    ``failure`` deliberately breaks training to show what failure looks like:
    ``"strong_discriminator"`` (the discriminator learns 10x faster and steps 3 times per
    generator step) or ``"mode_collapse"`` (the generator steps 5 times per discriminator
    step with a large learning rate and no conditioning).
    """

    dataset: str = "mnist5k"
    conditional: bool = True  # class-conditional (digits only)
    epochs: int = 20
    batch_size: int = 32
    ngf: int = 32  # generator width
    ndf: int = 32  # discriminator width
    lr_g: float = 3e-4
    lr_d: float = 3e-4
    beta1: float = 0.5
    real_label: float = 0.9  # one-sided label smoothing (1.0: none)
    ema: float = 0.995  # the sampled generator is a moving average of the trained one (0: off)
    flip: bool = False  # augment with horizontal flips (emoji only make sense)
    failure: str = "none"
    limit: int | None = None  # train on the first `limit` pictures (smoke runs)
    seed: int = 0

    def __post_init__(self):
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("failure", self.failure, FAILURES)
        check_int("epochs", self.epochs, minimum=1, maximum=1000)
        check_int("batch_size", self.batch_size, minimum=2, maximum=4096)
        check_int("ngf", self.ngf, minimum=4, maximum=1024)
        check_int("ndf", self.ndf, minimum=4, maximum=1024)
        check_float("lr_g", self.lr_g, minimum=1e-7, maximum=1.0)
        check_float("lr_d", self.lr_d, minimum=1e-7, maximum=1.0)
        check_float("beta1", self.beta1, minimum=0.0, maximum=0.999)
        check_float("real_label", self.real_label, minimum=0.5, maximum=1.0)
        check_float("ema", self.ema, minimum=0.0, maximum=0.99999)
        check_int("seed", self.seed, minimum=0)
        if self.limit is not None:
            check_int("limit", self.limit, minimum=self.batch_size)
        if self.conditional and self.dataset != "mnist5k":
            raise ParameterError("conditional=True needs labels: use dataset='mnist5k'")

    @property
    def image_size(self) -> int:
        return 28 if self.dataset == "mnist5k" else 64

    @property
    def channels(self) -> int:
        return 1 if self.dataset == "mnist5k" else 3

    @property
    def n_classes(self) -> int:
        return N_CLASSES if self.conditional and self.failure != "mode_collapse" else 0

    def key(self) -> str:
        """A short hash of the configuration: the checkpoint's name."""
        return config_key(self)


# ----------------------------------------------------------------------------- the game


def discriminator_step(D, opt_d, real, fake, labels=None, real_label: float = 1.0):
    """One update of the discriminator: minimise BCE(D(x), real_label) + BCE(D(G(z)), 0).

    ``fake`` is detached, so no gradient reaches the generator; a ``real_label`` below 1
    is one-sided label smoothing. Returns the loss and the logits of both batches.
    """
    b = real.shape[0]
    logits_real, logits_fake = D(real, labels), D(fake.detach(), labels)
    loss = F.binary_cross_entropy_with_logits(
        logits_real, torch.full((b,), real_label, device=real.device)
    ) + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros(b, device=real.device))
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    return loss, logits_real, logits_fake


def generator_loss(D, fake, labels=None) -> torch.Tensor:
    """The generator's "non-saturating" loss BCE(D(G(z)), 1) (Goodfellow et al., 2014)."""
    target = torch.ones(fake.shape[0], device=fake.device)
    return F.binary_cross_entropy_with_logits(D(fake, labels), target)


def train_step(G, D, opt_g, opt_d, real, labels, config, rng, d_steps=1, g_steps=1):
    """One round of the game: ``d_steps`` discriminator updates, then ``g_steps`` generator ones.

    The generator's batch is made once and used by both players (detached for ``D``), and
    ``D`` is frozen while ``G`` learns. The noise comes from ``rng`` on the CPU.
    """
    b = real.shape[0]

    def noise() -> torch.Tensor:
        return torch.randn(b, NZ, generator=rng).to(real.device)

    fake = G(noise(), labels)
    for step in range(d_steps):
        if step:  # extra discriminator steps (a deliberately strong D) get fresh fakes
            with torch.no_grad():
                fake = G(noise(), labels)
        loss_d, logits_real, logits_fake = discriminator_step(
            D, opt_d, real, fake, labels, config.real_label
        )
    with frozen(D):
        for step in range(g_steps):
            if step or d_steps > 1:
                fake = G(noise(), labels)
            loss_g = generator_loss(D, fake, labels)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
    return {
        "loss_D": loss_d.item(),
        "loss_G": loss_g.item(),
        "D(x)": torch.sigmoid(logits_real).mean().item(),
        "D(G(z))": torch.sigmoid(logits_fake).mean().item(),
    }


# ----------------------------------------------------------------------------- training


@dataclass
class GANResult:
    """A trained (or loaded) GAN with its training record."""

    config: GANConfig
    generator: Generator
    discriminator: Discriminator | None  # None for the shipped GANs (not needed to sample)
    trace: list[dict]  # one row per epoch
    snapshots: torch.Tensor  # (epochs, n, C, H, W): the fixed noise batch after each epoch
    loaded: bool = False  # True if it came from a checkpoint without training
    snapshot_epochs: list[int] | None = None  # which epochs `snapshots` holds (None: all)


def _training_data(config: GANConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    from .data import load_dataset
    from .preprocess import normalise

    train = load_dataset(config.dataset, "train", seed=0)
    images = normalise(train.images, "tanh")
    labels = train.labels
    if config.limit is not None:
        images = images[: config.limit]
        labels = None if labels is None else labels[: config.limit]
    return images.contiguous(), labels


def _fixed_inputs(config: GANConfig, n: int = 64, offset: int = 10_000, device="cpu"):
    """The same ``n`` noise vectors (and labels 0-9 in turn) for every epoch of a run."""
    rng = torch.Generator().manual_seed(offset + config.seed)
    z = torch.randn(n, NZ, generator=rng).to(device)
    labels = (torch.arange(n) % N_CLASSES).to(device) if config.n_classes else None
    return z, labels


def _schedule(config: GANConfig) -> tuple[float, float, int, int]:
    """(lr_g, lr_d, d_steps, g_steps) after applying the chosen failure."""
    if config.failure == "strong_discriminator":
        return config.lr_g, config.lr_d * 10, 3, 1
    if config.failure == "mode_collapse":
        return config.lr_g * 10, config.lr_d, 1, 5
    return config.lr_g, config.lr_d, 1, 1


def train_gan(
    config: GANConfig,
    checkpoint: str | Path | None = None,
    progress: bool = True,
    evaluate: bool = True,
    log: bool = True,
    device: str | torch.device = "cpu",
) -> GANResult:
    """Train a GAN for ``config.epochs`` epochs on ``device``, one trace row per epoch.

    With ``checkpoint``, the state is saved atomically after every epoch, and a run
    whose checkpoint exists (same config) resumes after its last complete epoch: an
    interrupted run loses at most one epoch. The trace has loss_D, loss_G, D(x),
    D(G(z)), seconds, and for digits FID and recognisability of 500 samples against
    the held-out test split (course feature network).
    """
    from .metrics import DigitEvaluator
    from .preprocess import denormalise, random_flip
    from .progress import progress_bar

    torch.manual_seed(config.seed)
    rng = torch.Generator().manual_seed(config.seed)
    images, labels = _training_data(config)
    G, D = Generator(config), Discriminator(config)
    # channels_last measurably speeds up these convolutions on a CPU (benchmarks/)
    G = G.to(device=device, memory_format=torch.channels_last)
    D = D.to(device=device, memory_format=torch.channels_last)
    images = images.to(device).contiguous(memory_format=torch.channels_last)
    labels = None if labels is None else labels.to(device)
    lr_g, lr_d, d_steps, g_steps = _schedule(config)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr_g, betas=(config.beta1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d, betas=(config.beta1, 0.999))
    G_avg = copy.deepcopy(G).requires_grad_(False)
    fixed_z, fixed_labels = _fixed_inputs(config, device=device)
    parts = {"training_generator": G, "generator": G_avg, "discriminator": D}
    parts.update(opt_g=opt_g, opt_d=opt_d)
    trace, state = resume(checkpoint, asdict(config), parts, rng, log=log)
    snapshots = list(state["snapshots"]) if trace else []
    evaluator = None
    if evaluate and config.dataset == "mnist5k":
        evaluator = DigitEvaluator(metrics=("FID", "recognisable"), device=device)
        eval_z, eval_labels = _fixed_inputs(config, 500, 20_000, device)
    if log and not trace:
        print(
            f"G: {sum(p.numel() for p in G.parameters()):,} parameters, "
            f"D: {sum(p.numel() for p in D.parameters()):,} parameters, "
            f"{len(images)} training pictures"
        )
    steps = len(images) // config.batch_size
    bar = progress_bar(total=(config.epochs - len(trace)) * steps, desc="GAN", disable=not progress)
    for epoch in range(len(trace) + 1, config.epochs + 1):
        G.train()
        D.train()
        started = time.perf_counter()
        sums = {"loss_D": 0.0, "loss_G": 0.0, "D(x)": 0.0, "D(G(z))": 0.0}
        order = torch.randperm(len(images), generator=rng).to(device)
        for step in range(steps):
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            real = random_flip(images[index], rng) if config.flip else images[index]
            y = labels[index] if config.n_classes else None
            stats = train_step(G, D, opt_g, opt_d, real, y, config, rng, d_steps, g_steps)
            update_average(G_avg, G, config.ema, step=(epoch - 1) * steps + step)
            for name in sums:
                sums[name] += stats[name]
            bar.update(1)
        row = {"epoch": epoch, **{k: v / steps for k, v in sums.items()}}
        row["seconds"] = time.perf_counter() - started
        G_avg.eval()
        with torch.no_grad():
            snapshots.append(G_avg(fixed_z, fixed_labels).cpu())
            if evaluator is not None:
                row.update(evaluator(denormalise(G_avg(eval_z, eval_labels))))
        trace.append(row)
        if checkpoint is not None:
            extra = {"snapshots": torch.stack(snapshots)}
            save_progress(checkpoint, asdict(config), parts, rng, trace, **extra)
    bar.close()
    D.eval()
    return GANResult(config, G_avg, D, trace, torch.stack(snapshots))


def checkpoint_path(config: GANConfig) -> Path:
    """Where :func:`train_or_load` keeps the run for ``config``."""
    return cache_dir() / "gan" / f"{config.dataset}-{config.key()}.pt"


def train_or_load(
    config: GANConfig, progress: bool = True, log: bool = True, device: str | torch.device = "cpu"
) -> GANResult:
    """A trained GAN for ``config`` on ``device``: loaded if a complete checkpoint with this
    exact configuration exists, otherwise trained (resuming an interrupted run).

    A corrupt or mismatched checkpoint is reported and retrained, never loaded.
    """
    path = checkpoint_path(config)
    state = load_finished(path, asdict(config), config.epochs)
    if state is None:
        return train_gan(config, checkpoint=path, progress=progress, log=log, device=device)
    G, D = Generator(config), Discriminator(config)
    G.load_state_dict(state["generator"])
    D.load_state_dict(state["discriminator"])
    if log:
        print(f"loaded the trained GAN from the course cache: {path.name}")
    trace = json.loads(state["trace"])
    # the memory layout training used: the same arithmetic, so the same pictures to the bit
    G = G.to(device=device, memory_format=torch.channels_last).eval()
    D = D.to(device=device, memory_format=torch.channels_last).eval()
    return GANResult(config, G, D, trace, state["snapshots"], loaded=True)


def replace(config: GANConfig, **changes) -> GANConfig:
    """A copy of ``config`` with some fields changed (validated again)."""
    return dataclasses.replace(config, **changes)


if __name__ == "__main__":  # pragma: no cover - the shipped GANs' command moved
    raise SystemExit(
        "the shipped GANs are re-created by: python -m noise2image.shipped retrain gan-digits "
        "(or gan-emoji); python -m noise2image.shipped list shows every shipped model"
    )
