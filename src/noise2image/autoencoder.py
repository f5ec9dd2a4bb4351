"""A convolutional autoencoder for 32x32 digits with a small latent grid.

The encoder squeezes a padded MNIST digit ``(B, 1, 32, 32)`` into a latent grid
``(B, latent_channels, 8, 8)`` (4x8x8 = 256 numbers by default, a quarter of the pixels);
the decoder turns the grid back into a picture. Trained with a pixel loss alone, the
reconstructions blur; adding a perceptual loss (chapter 7) asks the decoder to keep what
the feature network sees. Encoder and decoder are separate modules so that a later chapter
can run a latent diffusion model in this latent space, as Stable Diffusion does in the
latent space of its autoencoder.

>>> model = train_or_load(AEConfig(perceptual_weight=1.0)).model
>>> latents = model.encode(pad32(digits))      # (B, 4, 8, 8)
>>> pictures = model.decode(latents)           # (B, 1, 32, 32) in [0, 1]
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import cache_dir, config_key
from .profiles import check_choice, check_float, check_int
from .training import load_finished, resume, save_progress

__all__ = [
    "AEConfig",
    "Encoder",
    "Decoder",
    "Autoencoder",
    "AEResult",
    "pad32",
    "train_step",
    "train_autoencoder",
    "train_or_load",
    "evaluate_reconstructions",
]

SIZE = 32


def pad32(images: torch.Tensor) -> torch.Tensor:
    """``(B, C, 28, 28)`` -> ``(B, C, 32, 32)``: two background pixels on every side."""
    if images.shape[-2:] == (SIZE, SIZE):
        return images
    if images.shape[-2:] != (28, 28):
        raise ValueError(f"expected 28x28 or 32x32 pictures, got {tuple(images.shape[-2:])}")
    return F.pad(images, (2, 2, 2, 2))


@dataclass(frozen=True)
class AEConfig:
    """Autoencoder size and training; ``perceptual_weight=0`` is the pixel-only model."""

    latent_channels: int = 4
    width: int = 16
    epochs: int = 6
    lr: float = 2e-3
    batch_size: int = 64
    perceptual_weight: float = 0.0
    perceptual_net: str = "course"
    seed: int = 0
    limit: int | None = None  # train on the first `limit` training digits (smoke runs)

    def __post_init__(self):
        from .losses import PERCEPTUAL_NETS

        check_int("latent_channels", self.latent_channels, minimum=1, maximum=64)
        check_int("width", self.width, minimum=4, maximum=256)
        check_int("epochs", self.epochs, minimum=1, maximum=1000)
        check_float("lr", self.lr, minimum=1e-7, maximum=1.0)
        check_int("batch_size", self.batch_size, minimum=1, maximum=4096)
        check_float("perceptual_weight", self.perceptual_weight, minimum=0.0)
        check_choice("perceptual_net", self.perceptual_net, PERCEPTUAL_NETS)
        check_int("seed", self.seed, minimum=0)
        if self.limit is not None:
            check_int("limit", self.limit, minimum=self.batch_size)

    def key(self) -> str:
        """A short hash of the configuration: the checkpoint's name."""
        return config_key(self)


class Encoder(nn.Module):
    """``(B, 1, 32, 32)`` in [0, 1] -> latent grid ``(B, latent_channels, 8, 8)``."""

    def __init__(self, config: AEConfig):
        super().__init__()
        w = config.width
        self.net = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1),  # 16x16
            nn.SiLU(),
            nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1),  # 8x8
            nn.SiLU(),
            nn.Conv2d(4 * w, config.latent_channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


class Decoder(nn.Module):
    """Latent grid ``(B, latent_channels, 8, 8)`` -> logits ``(B, 1, 32, 32)``."""

    def __init__(self, config: AEConfig):
        super().__init__()
        w = config.width
        self.net = nn.Sequential(
            nn.Conv2d(config.latent_channels, 4 * w, 3, padding=1),
            nn.SiLU(),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, stride=2, padding=1),  # 16x16
            nn.SiLU(),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1),  # 32x32
            nn.SiLU(),
            nn.Conv2d(w, 1, 3, padding=1),
        )

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.net(latents)


class Autoencoder(nn.Module):
    """Encoder + decoder. ``forward(x)`` gives logits; :meth:`encode` / :meth:`decode` are
    the two halves on their own (``decode`` returns pictures in [0, 1])."""

    def __init__(self, config: AEConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 28|32, 28|32)`` in [0, 1] -> ``(B, latent_channels, 8, 8)``."""
        return self.encoder(pad32(images))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """``(B, latent_channels, 8, 8)`` -> ``(B, 1, 32, 32)`` in [0, 1]."""
        return torch.sigmoid(self.decoder(latents))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(images))

    @torch.no_grad()
    def stages(self, images: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """The prediction trace: ``(name, tensor)`` after every layer of encoder and decoder,
        from the padded input to the output logits (for shape tables)."""
        x = pad32(images)
        trace = [("input (padded)", x)]
        x = x * 2 - 1  # the encoder's input scaling
        for part, net in (("encoder", self.encoder.net), ("decoder", self.decoder.net)):
            for layer in net:
                x = layer(x)
                trace.append((f"{part} {type(layer).__name__}", x))
            if part == "encoder":
                trace.append(("latent grid", x))
        return trace

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
        """Encode and decode ``images`` in inference mode: ``(B, 1, 32, 32)`` in [0, 1], computed
        on the model's device and returned on the device of ``images``."""
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        parts = [self.decode(self.encode(part.to(device))) for part in images.split(batch)]
        self.train(was_training)
        return torch.cat(parts).to(images.device)


@dataclass
class AEResult:
    """A trained (or loaded) autoencoder, its trace and its reconstruction metrics."""

    config: AEConfig
    model: Autoencoder
    trace: list[dict]  # one row per epoch
    evaluation: dict = field(default_factory=dict)  # metrics of test reconstructions
    latent_std: float = 1.0  # std of the training digits' latents (to scale them for diffusion)
    loaded: bool = False


def _digits(split: str, limit: int | None = None) -> torch.Tensor:
    from .data import load_dataset

    images = pad32(load_dataset("mnist5k", split, seed=0).images)
    return images[:limit].contiguous() if limit else images.contiguous()


def evaluate_reconstructions(model: Autoencoder, images: torch.Tensor | None = None) -> dict:
    """Clarity, FID, recognisable and pixel MSE of the reconstructions of ``images``
    (default: the first 500 test digits, padded to 32x32) against the originals, computed
    on the model's device (MSE and clarity on the CPU)."""
    from .metrics import evaluate_digits

    real = _digits("test")[:500] if images is None else pad32(images).cpu()
    rebuilt = model.reconstruct(real)
    return {**evaluate_digits(rebuilt, real), "MSE": F.mse_loss(rebuilt, real).item()}


def checkpoint_path(config: AEConfig) -> Path:
    """Where :func:`train_or_load` keeps the model for ``config``."""
    return cache_dir() / "autoencoder" / f"ae-{config.key()}.pt"


def train_step(model, opt, real, perceptual=None, perceptual_weight=1.0) -> dict[str, float]:
    """One update of the autoencoder on a batch of digits ``real`` in [0, 1]: the pixel loss
    (BCE with logits: a Sigmoid + MSE version collapsed to black here) plus, with
    ``perceptual``, ``perceptual_weight`` x the perceptual loss of the reconstruction."""
    logits = model(real)
    loss = pixel = F.binary_cross_entropy_with_logits(logits, real)
    terms = {"pixel (BCE)": pixel.item()}
    if perceptual is not None:
        feature_loss = perceptual(torch.sigmoid(logits), real)
        loss = loss + perceptual_weight * feature_loss
        terms["perceptual"] = feature_loss.item()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return terms


def train_autoencoder(
    config: AEConfig,
    checkpoint: str | Path | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> AEResult:
    """Train for ``config.epochs`` epochs on ``device`` with the pixel loss (+ perceptual).

    With ``checkpoint``, the state is saved atomically after every epoch and an
    interrupted run resumes after its last complete epoch.
    """
    from .losses import PerceptualLoss
    from .progress import progress_bar

    torch.manual_seed(config.seed)
    rng = torch.Generator().manual_seed(config.seed)
    images = _digits("train", config.limit).to(device)
    val = _digits("val")[:500].to(device)
    model = Autoencoder(config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    perceptual = None
    if config.perceptual_weight > 0:
        perceptual = PerceptualLoss(config.perceptual_net, device=device)
    parts = {"model": model, "opt": opt}
    trace, _ = resume(checkpoint, asdict(config), parts, rng)
    steps = len(images) // config.batch_size
    bar = progress_bar(
        total=(config.epochs - len(trace)) * steps, desc="autoencoder", disable=not progress
    )
    for epoch in range(len(trace) + 1, config.epochs + 1):
        started = time.perf_counter()
        sums = {"pixel (BCE)": 0.0, "perceptual": 0.0}
        order = torch.randperm(len(images), generator=rng).to(device)
        model.train()
        for step in range(steps):
            real = images[order[step * config.batch_size : (step + 1) * config.batch_size]]
            terms = train_step(model, opt, real, perceptual, config.perceptual_weight)
            for name, value in terms.items():
                sums[name] += value
            bar.update(1)
        row = {"epoch": epoch, **{k: v / steps for k, v in sums.items()}}
        if perceptual is None:
            del row["perceptual"]
        row["val MSE"] = F.mse_loss(model.reconstruct(val), val).item()
        row["seconds"] = time.perf_counter() - started
        trace.append(row)
        if checkpoint is not None:
            save_progress(checkpoint, asdict(config), parts, rng, trace)
    bar.close()
    model.eval()
    return _finish(config, model, trace, images, loaded=False)


def _finish(config, model, trace, images, loaded) -> AEResult:
    with torch.no_grad():
        latents = torch.cat([model.encode(part) for part in images.split(500)])
    return AEResult(
        config,
        model,
        trace,
        evaluation=evaluate_reconstructions(model),
        latent_std=latents.std().item(),
        loaded=loaded,
    )


def train_or_load(
    config: AEConfig, progress: bool = True, device: str | torch.device = "cpu"
) -> AEResult:
    """A trained autoencoder for ``config`` on ``device``: loaded if a complete checkpoint with
    this exact configuration exists, otherwise trained (resuming an interrupted run).

    A corrupt or mismatched checkpoint is reported and retrained, never loaded.
    """
    path = checkpoint_path(config)
    state = load_finished(path, asdict(config), config.epochs)
    if state is None:
        return train_autoencoder(config, checkpoint=path, progress=progress, device=device)
    model = Autoencoder(config)
    model.load_state_dict(state["model"])
    model = model.to(device).eval()
    print(f"loaded the trained autoencoder from the course cache: {path.name}")
    trace = json.loads(state["trace"])
    images = _digits("train", config.limit).to(device)
    return _finish(config, model, trace, images, loaded=True)
