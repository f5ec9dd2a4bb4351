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
    "AEConfig",
    "Encoder",
    "Decoder",
    "Autoencoder",
    "AEResult",
    "pad32",
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
        """Encode and decode ``images`` in inference mode: ``(B, 1, 32, 32)`` in [0, 1]."""
        was_training = self.training
        self.eval()
        out = torch.cat([self.decode(self.encode(part)) for part in images.split(batch)])
        self.train(was_training)
        return out


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
    (default: the first 500 test digits, padded to 32x32) against the originals."""
    from .losses import evaluate_digits

    real = _digits("test")[:500] if images is None else pad32(images)
    rebuilt = model.reconstruct(real)
    return {**evaluate_digits(rebuilt, real), "MSE": F.mse_loss(rebuilt, real).item()}


def checkpoint_path(config: AEConfig) -> Path:
    """Where :func:`train_or_load` keeps the model for ``config``."""
    return cache_dir() / "autoencoder" / f"ae-{config.key()}.pt"


def train_autoencoder(
    config: AEConfig, checkpoint: str | Path | None = None, progress: bool = True
) -> AEResult:
    """Train for ``config.epochs`` epochs with BCE-with-logits pixel loss (+ perceptual).

    With ``checkpoint``, the state is saved atomically after every epoch and an
    interrupted run resumes after its last complete epoch.
    """
    from .losses import PerceptualLoss
    from .progress import progress_bar

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    images = _digits("train", config.limit)
    val = _digits("val")[:500]
    model = Autoencoder(config)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    perceptual = PerceptualLoss(config.perceptual_net) if config.perceptual_weight > 0 else None
    trace: list[dict] = []
    if checkpoint is not None and Path(checkpoint).exists():
        try:
            state = load_checkpoint(checkpoint, config=asdict(config))["state"]
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            generator.set_state(state["rng"])
            torch.set_rng_state(state["torch_rng"])
            trace = json.loads(state["trace"])
            print(f"resuming from {checkpoint} after epoch {len(trace)}")
        except CheckpointError as error:
            print(f"ignoring the checkpoint ({error}); training from the start")
            trace = []
    steps = len(images) // config.batch_size
    done = len(trace)
    bar = progress_bar(
        total=(config.epochs - done) * steps, desc="autoencoder", disable=not progress
    )
    for epoch in range(done + 1, config.epochs + 1):
        started = time.perf_counter()
        sums = {"pixel (BCE)": 0.0, "perceptual": 0.0}
        order = torch.randperm(len(images), generator=generator)
        model.train()
        for step in range(steps):
            real = images[order[step * config.batch_size : (step + 1) * config.batch_size]]
            logits = model(real)
            loss = pixel = F.binary_cross_entropy_with_logits(logits, real)
            sums["pixel (BCE)"] += pixel.item()
            if perceptual is not None:
                feature_loss = perceptual(torch.sigmoid(logits), real)
                loss = loss + config.perceptual_weight * feature_loss
                sums["perceptual"] += feature_loss.item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(1)
        row = {"epoch": epoch, **{k: v / steps for k, v in sums.items()}}
        if perceptual is None:
            del row["perceptual"]
        row["val MSE"] = F.mse_loss(model.reconstruct(val), val).item()
        row["seconds"] = time.perf_counter() - started
        trace.append(row)
        if checkpoint is not None:
            state = {
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "rng": generator.get_state(),
                "torch_rng": torch.get_rng_state(),
                "trace": json.dumps(trace),
            }
            save_checkpoint(checkpoint, state, asdict(config))
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


def train_or_load(config: AEConfig, progress: bool = True) -> AEResult:
    """A trained autoencoder for ``config``: loaded if a complete checkpoint with this exact
    configuration exists, otherwise trained (resuming an interrupted run).

    A corrupt or mismatched checkpoint is reported and retrained, never loaded.
    """
    path = checkpoint_path(config)
    state = load_finished(path, asdict(config), config.epochs)
    if state is not None:
        model = Autoencoder(config)
        model.load_state_dict(state["model"])
        model.eval()
        print(f"loaded the trained autoencoder from {path}")
        trace = json.loads(state["trace"])
        return _finish(config, model, trace, _digits("train", config.limit), loaded=True)
    return train_autoencoder(config, checkpoint=path, progress=progress)
