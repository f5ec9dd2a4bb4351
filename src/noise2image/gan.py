"""Training a GAN: the DCGAN generator and discriminator, the training loop, sampling.

Two players (Goodfellow et al., 2014; the DCGAN architecture of Radford et al., 2015):

* the generator ``G`` maps a noise vector ``z`` (1x100) -- and, in the class-conditional
  version, a digit label -- to a picture in [-1, 1] (Tanh output);
* the discriminator ``D`` maps a picture (and the label) to one logit: real or fake.

``D`` is trained to tell real from generated pictures, ``G`` to make ``D`` say "real".
The network, the training loop and the sampling are separate functions, so a chapter
can show each on its own.

>>> config = GANConfig(dataset="mnist5k", epochs=10)
>>> result = train_or_load(config)          # trains, or loads a cached checkpoint
>>> pictures = sample(result.generator, 16, seed=0)   # (16, 1, 28, 28) in [-1, 1]
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
from torch import nn

from .checkpoints import (
    CheckpointError,
    cache_dir,
    config_key,
    load_checkpoint,
    load_finished,
    save_checkpoint,
)
from .profiles import check_choice, check_float, check_int

__all__ = [
    "GANConfig",
    "Generator",
    "Discriminator",
    "init_weights",
    "train_gan",
    "train_or_load",
    "GANResult",
    "sample",
    "layer_trace",
    "interpolate",
    "from_seed",
    "update_average",
    "FAILURES",
]

DATASETS = ("mnist5k", "openmoji")
FAILURES = ("none", "strong_discriminator", "mode_collapse")
NZ = 100
N_CLASSES = 10


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
            raise ValueError("conditional=True needs labels: use dataset='mnist5k'")

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


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), bias 0."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _up(c_in: int, c_out: int, kernel: int = 4, stride: int = 2, padding: int = 1):
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(True),
    )


def _down(c_in: int, c_out: int, norm: bool = True):
    layers = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(0.2, True))
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """Noise (and label) to picture.

    * digits: ``(B, 100)`` [+ labels ``(B,)``] -> ``(B, 1, 28, 28)`` in [-1, 1]:
      1x1 -> 7x7 (ngf*4) -> 14x14 (ngf*2) -> 28x28 (1)
    * emoji: ``(B, 100)`` -> ``(B, 3, 64, 64)`` in [-1, 1]:
      1x1 -> 4x4 (ngf*8) -> 8x8 (ngf*4) -> 16x16 (ngf*2) -> 32x32 (ngf) -> 64x64 (3),
      the architecture of pytorch/examples' DCGAN.
    """

    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        ngf, n_in = config.ngf, NZ + config.n_classes
        if config.image_size == 28:
            self.blocks = nn.Sequential(
                _up(n_in, ngf * 4, 7, 1, 0),
                _up(ngf * 4, ngf * 2),
                nn.Sequential(nn.ConvTranspose2d(ngf * 2, 1, 4, 2, 1, bias=False), nn.Tanh()),
            )
        else:
            self.blocks = nn.Sequential(
                _up(n_in, ngf * 8, 4, 1, 0),
                _up(ngf * 8, ngf * 4),
                _up(ngf * 4, ngf * 2),
                _up(ngf * 2, ngf),
                nn.Sequential(nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh()),
            )
        self.apply(init_weights)

    def inputs(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, 100)`` noise [+ one-hot labels] as the ``(B, C, 1, 1)`` input of block 1."""
        if self.config.n_classes:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass labels")
            z = torch.cat([z, F.one_hot(labels, self.config.n_classes).to(z)], dim=1)
        return z.view(z.shape[0], -1, 1, 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.blocks(self.inputs(z, labels))


class Discriminator(nn.Module):
    """Picture (and label) to one logit: high for "real".

    * digits: ``(B, 1, 28, 28)`` [+ labels as 10 constant planes] -> ``(B,)``:
      28x28 -> 14x14 (ndf) -> 7x7 (ndf*2) -> 1 logit
    * emoji: ``(B, 3, 64, 64)`` -> ``(B,)``: 64 -> 32 -> 16 -> 8 -> 4 -> 1, as pytorch/examples.
    """

    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        ndf, c_in = config.ndf, config.channels + config.n_classes
        if config.image_size == 28:
            self.blocks = nn.Sequential(
                _down(c_in, ndf, norm=False),
                _down(ndf, ndf * 2),
                nn.Conv2d(ndf * 2, 1, 7, 1, 0),
            )
        else:
            self.blocks = nn.Sequential(
                _down(c_in, ndf, norm=False),
                _down(ndf, ndf * 2),
                _down(ndf * 2, ndf * 4),
                _down(ndf * 4, ndf * 8),
                nn.Conv2d(ndf * 8, 1, 4, 1, 0),
            )
        self.apply(init_weights)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.config.n_classes:
            planes = F.one_hot(labels, self.config.n_classes).to(images)
            planes = planes.view(*planes.shape, 1, 1).expand(-1, -1, *images.shape[-2:])
            images = torch.cat([images, planes], dim=1)
        return self.blocks(images).flatten()


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
    from .data import load_dataset, normalise

    train = load_dataset(config.dataset, "train", seed=0)
    images = normalise(train.images, "tanh")
    labels = train.labels
    if config.limit is not None:
        images = images[: config.limit]
        labels = None if labels is None else labels[: config.limit]
    return images.contiguous(), labels


def _fixed_inputs(config: GANConfig, n: int = 64):
    generator = torch.Generator().manual_seed(10_000 + config.seed)
    z = torch.randn(n, NZ, generator=generator)
    labels = torch.arange(n) % N_CLASSES if config.n_classes else None
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
) -> GANResult:
    """Train a GAN for ``config.epochs`` epochs, one trace row per epoch.

    With ``checkpoint``, the state is saved atomically after every epoch, and a run
    whose checkpoint exists (same config) resumes after its last complete epoch: an
    interrupted run loses at most one epoch. The trace has loss_D, loss_G, D(x),
    D(G(z)), seconds, and for digits FID and recognisability of 500 samples against
    the held-out test split (course feature network).
    """
    from .progress import progress_bar

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    images, labels = _training_data(config)
    G, D = Generator(config), Discriminator(config)
    # channels_last measurably speeds up these convolutions on a CPU (benchmarks/)
    G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    images = images.contiguous(memory_format=torch.channels_last)
    lr_g, lr_d, d_steps, g_steps = _schedule(config)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr_g, betas=(config.beta1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d, betas=(config.beta1, 0.999))
    G_avg = copy.deepcopy(G).requires_grad_(False)
    fixed_z, fixed_labels = _fixed_inputs(config)
    trace: list[dict] = []
    snapshots: list[torch.Tensor] = []
    start_epoch = 1
    if checkpoint is not None and Path(checkpoint).exists():
        try:
            state = load_checkpoint(checkpoint, config=asdict(config))["state"]
            G.load_state_dict(state["training_generator"])
            G_avg.load_state_dict(state["generator"])
            D.load_state_dict(state["discriminator"])
            opt_g.load_state_dict(state["opt_g"])
            opt_d.load_state_dict(state["opt_d"])
            generator.set_state(state["rng"])
            torch.set_rng_state(state["torch_rng"])
            trace = json.loads(state["trace"])
            snapshots = list(state["snapshots"])
            start_epoch = len(trace) + 1
            if log and start_epoch <= config.epochs:
                print(f"resuming from {checkpoint} after epoch {start_epoch - 1}")
        except CheckpointError as error:
            print(f"ignoring the checkpoint ({error}); training from the start")
    evaluator = _Evaluator(config) if evaluate and config.dataset == "mnist5k" else None
    if log and start_epoch == 1:
        print(
            f"G: {sum(p.numel() for p in G.parameters()):,} parameters, "
            f"D: {sum(p.numel() for p in D.parameters()):,} parameters, "
            f"{len(images)} training pictures"
        )
    steps = len(images) // config.batch_size
    bar = progress_bar(
        total=(config.epochs - start_epoch + 1) * steps, desc="GAN", disable=not progress
    )
    for epoch in range(start_epoch, config.epochs + 1):
        G.train()
        D.train()
        started = time.perf_counter()
        sums = {"loss_D": 0.0, "loss_G": 0.0, "D(x)": 0.0, "D(G(z))": 0.0}
        order = torch.randperm(len(images), generator=generator)
        for step in range(steps):
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            real = images[index]
            if config.flip:
                flips = torch.rand(len(real), generator=generator) < 0.5
                real = torch.where(flips.view(-1, 1, 1, 1), real.flip(-1), real)
            y = labels[index] if config.n_classes else None
            stats = train_step(G, D, opt_g, opt_d, real, y, config, generator, d_steps, g_steps)
            done = (epoch - 1) * steps + step  # early on, average over fewer states
            update_average(G_avg, G, min(config.ema, (1 + done) / (10 + done)))
            for name in sums:
                sums[name] += stats[name]
            bar.update(1)
        row = {"epoch": epoch, **{k: v / steps for k, v in sums.items()}}
        row["seconds"] = time.perf_counter() - started
        G_avg.eval()
        with torch.no_grad():
            snapshots.append(G_avg(fixed_z, fixed_labels).detach())
        if evaluator is not None:
            row.update(evaluator(G_avg))
        trace.append(row)
        if checkpoint is not None:
            _save(checkpoint, config, G, G_avg, D, opt_g, opt_d, generator, trace, snapshots)
    bar.close()
    D.eval()
    return GANResult(config, G_avg, D, trace, torch.stack(snapshots))


@torch.no_grad()
def update_average(average: nn.Module, model: nn.Module, decay: float) -> None:
    """Exponential moving average of the weights (and a copy of BatchNorm's statistics).

    Sampling from the average of the last few hundred generator states, instead of the
    last one, smooths out the back-and-forth of the game (Karras et al., 2018).
    """
    for a, p in zip(average.parameters(), model.parameters(), strict=True):
        a.lerp_(p, 1.0 - decay)
    for a, b in zip(average.buffers(), model.buffers(), strict=True):
        a.copy_(b)


def train_step(G, D, opt_g, opt_d, real, labels, config, generator, d_steps=1, g_steps=1):
    """One round of the game: ``d_steps`` discriminator updates, then ``g_steps`` generator ones.

    The discriminator minimises BCE(D(x), real_label) + BCE(D(G(z)), 0); the generator
    minimises BCE(D(G(z)), 1), the "non-saturating" loss of Goodfellow et al. Two things
    keep it fast on a CPU: the generator's batch is made once and used by both players
    (detached for the discriminator), and the discriminator's weights are frozen while
    the generator learns, so no gradient is computed for weights that will not move.
    """
    b = real.shape[0]
    target_real = torch.full((b,), config.real_label)
    fake = G(torch.randn(b, NZ, generator=generator), labels)
    for step in range(d_steps):
        if step:  # extra discriminator steps (a deliberately strong D) get fresh fakes
            with torch.no_grad():
                fake = G(torch.randn(b, NZ, generator=generator), labels)
        logits_real, logits_fake = D(real, labels), D(fake.detach(), labels)
        loss_d = F.binary_cross_entropy_with_logits(
            logits_real, target_real
        ) + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros(b))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
    D.requires_grad_(False)
    for step in range(g_steps):
        if step or d_steps > 1:
            fake = G(torch.randn(b, NZ, generator=generator), labels)
        loss_g = F.binary_cross_entropy_with_logits(D(fake, labels), torch.ones(b))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    D.requires_grad_(True)
    return {
        "loss_D": loss_d.item(),
        "loss_G": loss_g.item(),
        "D(x)": torch.sigmoid(logits_real).mean().item(),
        "D(G(z))": torch.sigmoid(logits_fake).mean().item(),
    }


class _Evaluator:
    """FID and recognisability of 500 generated digits against the held-out test split."""

    def __init__(self, config: GANConfig, n: int = 500):
        from .data import load_dataset
        from .features import load_feature_net

        self.net = load_feature_net()
        self.real = load_dataset("mnist5k", "test", seed=0).images[:n]
        z_gen = torch.Generator().manual_seed(20_000 + config.seed)
        self.z = torch.randn(n, NZ, generator=z_gen)
        self.labels = torch.arange(n) % N_CLASSES if config.n_classes else None

    @torch.no_grad()
    def __call__(self, G: Generator) -> dict:
        from .data import denormalise
        from .metrics import fid, recognisability

        fake = denormalise(G(self.z, self.labels))
        return {
            "FID": fid(self.real, fake, self.net),
            "recognisable": recognisability(fake, self.net),
        }


def _save(path, config, G, G_avg, D, opt_g, opt_d, generator, trace, snapshots):
    state = {
        "training_generator": G.state_dict(),
        "generator": G_avg.state_dict(),
        "discriminator": D.state_dict(),
        "opt_g": opt_g.state_dict(),
        "opt_d": opt_d.state_dict(),
        "rng": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "trace": json.dumps(trace),
        "snapshots": torch.stack(snapshots),
    }
    save_checkpoint(path, state, asdict(config))


def checkpoint_path(config: GANConfig) -> Path:
    """Where :func:`train_or_load` keeps the run for ``config``."""
    return cache_dir() / "gan" / f"{config.dataset}-{config.key()}.pt"


def train_or_load(config: GANConfig, progress: bool = True, log: bool = True) -> GANResult:
    """A trained GAN for ``config``: loaded if a complete checkpoint with this exact
    configuration exists, otherwise trained (resuming an interrupted run).

    A corrupt or mismatched checkpoint is reported and retrained, never loaded.
    """
    path = checkpoint_path(config)
    state = load_finished(path, asdict(config), config.epochs)
    if state is not None:
        G, D = Generator(config), Discriminator(config)
        G.load_state_dict(state["generator"])
        D.load_state_dict(state["discriminator"])
        G.eval()
        D.eval()
        if log:
            print(f"loaded the trained GAN from {path}")
        trace = json.loads(state["trace"])
        return GANResult(config, G, D, trace, state["snapshots"], loaded=True)
    return train_gan(config, checkpoint=path, progress=progress, log=log)


# ----------------------------------------------------------------------------- sampling


@torch.no_grad()
def sample(G: Generator, n: int, seed: int = 0, labels: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` pictures ``(n, C, H, W)`` in [-1, 1] from fresh noise; labels cycle 0-9 by default."""
    z = torch.randn(n, NZ, generator=torch.Generator().manual_seed(seed))
    if G.config.n_classes and labels is None:
        labels = torch.arange(n) % N_CLASSES
    G.eval()
    return G(z, labels if G.config.n_classes else None)


@torch.no_grad()
def from_seed(
    G: Generator, seed: int, label: int | None = None, scale: float = 1.0
) -> torch.Tensor:
    """One picture ``(1, C, H, W)`` in [-1, 1] from the noise vector of ``seed``, scaled."""
    z = torch.randn(1, NZ, generator=torch.Generator().manual_seed(seed)) * scale
    labels = torch.tensor([label if label is not None else 0]) if G.config.n_classes else None
    G.eval()
    return G(z, labels)


@torch.no_grad()
def layer_trace(G: Generator, z: torch.Tensor, labels: torch.Tensor | None = None):
    """The prediction trace: ``[(name, tensor)]`` from the input through every block."""
    G.eval()
    x = G.inputs(z, labels)
    steps = [("input: noise" + (" + label" if G.config.n_classes else ""), x)]
    for i, block in enumerate(G.blocks, start=1):
        x = block(x)
        steps.append((f"block {i}", x))
    return steps


@torch.no_grad()
def interpolate(
    G: Generator, z0: torch.Tensor, z1: torch.Tensor, steps: int = 8, label: int | None = None
) -> torch.Tensor:
    """Pictures along the straight line from ``z0`` to ``z1`` (each ``(100,)``)."""
    weights = torch.linspace(0, 1, steps).view(-1, 1)
    z = (1 - weights) * z0 + weights * z1
    labels = torch.full((steps,), label if label is not None else 0) if G.config.n_classes else None
    G.eval()
    return G(z, labels)


def replace(config: GANConfig, **changes) -> GANConfig:
    """A copy of ``config`` with some fields changed (validated again)."""
    return dataclasses.replace(config, **changes)


# ------------------------------------------------------------------------ the shipped GANs

SHIPPED = {
    "digits": GANConfig(dataset="mnist5k", epochs=60),
    "emoji": GANConfig(dataset="openmoji", conditional=False, flip=True, epochs=60),
}
SHIPPED_DIGITS = SHIPPED["digits"]


def _shipped_files(name: str = "digits") -> tuple[Path, Path]:
    from importlib import resources

    check_choice("name", name, tuple(SHIPPED))
    root = Path(str(resources.files(__package__))) / "checkpoints"
    return root / f"gan_{name}.pt", root / f"gan_{name}.json"


def load_shipped(name: str = "digits") -> GANResult:
    """A GAN trained for :data:`SHIPPED` [name] (``"digits"`` or ``"emoji"``).

    It ships inside the package (the moving-average generator and a few snapshots),
    checked by SHA-256 and loaded with ``weights_only=True``; its
    training trace is in the JSON beside it. Re-create it with
    ``python -m noise2image.gan --retrain-shipped NAME``.
    """
    config = SHIPPED[name] if name in SHIPPED else check_choice("name", name, tuple(SHIPPED))
    path, meta_path = _shipped_files(name)
    meta = json.loads(meta_path.read_text())
    payload = load_checkpoint(path, config=meta["config"], sha256=meta["sha256"])
    G = Generator(config)
    G.load_state_dict(payload["state"]["generator"])
    G.eval()
    snapshots = payload["state"]["snapshots"].float()
    return GANResult(
        config,
        G,
        None,
        meta["trace"],
        snapshots,
        loaded=True,
        snapshot_epochs=payload["state"]["snapshot_epochs"].tolist(),
    )


def load_shipped_digits() -> GANResult:
    """The shipped class-conditional digit GAN (:func:`load_shipped` ``("digits")``)."""
    return load_shipped("digits")


def retrain_shipped(name: str = "digits") -> dict:
    """Train :data:`SHIPPED` [name] from scratch and write the shipped checkpoint + JSON."""
    from .checkpoints import sha256_file

    config = SHIPPED[name] if name in SHIPPED else check_choice("name", name, tuple(SHIPPED))
    torch.use_deterministic_algorithms(True)
    work = cache_dir() / "gan" / f"shipped-{config.key()}.pt"
    result = train_gan(config, checkpoint=work)
    path, meta_path = _shipped_files(name)
    # small on purpose: the sampling generator only, and 20 fixed-noise pictures at
    # four points of training (the full run, discriminator included, stays in the cache)
    epochs = sorted(
        {0, len(result.snapshots) // 4, len(result.snapshots) // 2, len(result.snapshots) - 1}
    )
    state = {
        "generator": result.generator.state_dict(),
        "snapshots": result.snapshots[epochs][:, :20].half(),
        "snapshot_epochs": torch.tensor(epochs) + 1,
    }
    save_checkpoint(path, state, asdict(config))
    meta = {
        "config": asdict(config),
        "sha256": sha256_file(path),
        "trace": result.trace,
        "train_seconds": round(sum(row["seconds"] for row in result.trace), 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "command": f"python -m noise2image.gan --retrain-shipped {name}",
    }
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return meta


if __name__ == "__main__":  # pragma: no cover
    import argparse

    parser = argparse.ArgumentParser(description="Re-create a shipped GAN.")
    parser.add_argument(
        "--retrain-shipped", choices=tuple(SHIPPED), metavar="NAME", help="digits or emoji"
    )
    args = parser.parse_args()
    if args.retrain_shipped:
        meta = retrain_shipped(args.retrain_shipped)
        print(json.dumps({k: v for k, v in meta.items() if k != "trace"}, indent=2))
        print(json.dumps(meta["trace"][-1]))
    else:
        parser.print_help()
