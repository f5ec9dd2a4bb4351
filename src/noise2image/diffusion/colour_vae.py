"""Chapter 10's ``vae``: colour emoji ``(B, 3, 64, 64)`` <-> latent grids ``(B, 4, 16, 16)``.

A convolutional autoencoder trained the way Stable Diffusion's is, in miniature: a pixel
loss (L1) plus an edge term (L1 between the pictures' Sobel gradients, which keeps
OpenMoji's black outlines sharp where a pixel loss alone blurs them). The latent grid is
48 × smaller than the picture (12 288 numbers → 1 024), so the denoiser works on 1 024
numbers per picture, as SD's works on 64 × 64 × 4 instead of 512 × 512 × 3.

* :class:`ColourVAE` -- a diffusers ``ModelMixin`` (saved and loaded as safetensors with its
  config by the pipeline): ``encode`` gives unscaled latents, ``decode`` takes them and
  gives pictures in [0, 1]; ``config.scaling_factor`` scales latents to unit variance.
* :class:`ColourVAEConfig` and :func:`train_colour_vae` -- the training run (resumable after
  every epoch, in the course cache), and :func:`psnr` for the held-out reconstructions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from ..checkpoints import cache_dir, config_key
from ..profiles import check_float, check_int
from ..progress import progress_bar
from ..training import resume, save_progress

__all__ = [
    "ColourVAE",
    "ColourVAEConfig",
    "VAEResult",
    "edge_loss",
    "psnr",
    "split_pictures",
    "train_colour_vae",
]


class _Res(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.GroupNorm(8, width),
            nn.SiLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.GroupNorm(8, width),
            nn.SiLU(),
            nn.Conv2d(width, width, 3, padding=1),
        )

    def forward(self, x):
        return x + self.net(x)


class ColourVAE(ModelMixin, ConfigMixin):
    """``encode``: ``(B, 3, 64, 64)`` in [0, 1] -> ``(B, C, 16, 16)``; ``decode``: back.

    ``width`` channels at 64 × 64 (plain convolutions: the costly size on a CPU), twice that
    at 32 × 32 and 16 × 16 with a residual block at each.
    """

    @register_to_config
    def __init__(self, latent_channels: int = 4, width: int = 32, scaling_factor: float = 1.0):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1),  # 32x32
            _Res(2 * w),
            nn.Conv2d(2 * w, 2 * w, 4, stride=2, padding=1),  # 16x16
            _Res(2 * w),
            nn.GroupNorm(8, 2 * w),
            nn.SiLU(),
            nn.Conv2d(2 * w, latent_channels, 1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(latent_channels, 2 * w, 3, padding=1),
            _Res(2 * w),
            nn.Upsample(scale_factor=2, mode="nearest"),  # 32x32
            nn.Conv2d(2 * w, 2 * w, 3, padding=1),
            _Res(2 * w),
            nn.Upsample(scale_factor=2, mode="nearest"),  # 64x64
            nn.Conv2d(2 * w, w, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(w, 3, 3, padding=1),
        )

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, 64, 64)`` in [0, 1] -> latents ``(B, C, 16, 16)`` (unscaled)."""
        if images.ndim != 4 or images.shape[1:] != (3, 64, 64):
            raise ValueError(f"images must be (B, 3, 64, 64), not {tuple(images.shape)}")
        return self.encoder(images * 2 - 1)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents ``(B, C, 16, 16)`` (unscaled) -> pictures ``(B, 3, 64, 64)`` in [0, 1]."""
        return torch.sigmoid(self.decoder(latents))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstruction logits (the training loss reads them before the sigmoid)."""
        return self.decoder(self.encode(images))


_SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4


def _edges(x: torch.Tensor) -> torch.Tensor:
    kernel = torch.stack([_SOBEL, _SOBEL.T])[:, None].to(x)  # (2, 1, 3, 3)
    flat = x.reshape(-1, 1, *x.shape[-2:])
    return F.conv2d(F.pad(flat, (1, 1, 1, 1), mode="replicate"), kernel)


def edge_loss(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of the two pictures' Sobel gradients (both directions)."""
    return (_edges(reconstruction) - _edges(target)).abs().mean()


def psnr(reconstruction: torch.Tensor, target: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB over the batch (pictures in [0, 1], peak 1)."""
    mse = F.mse_loss(reconstruction.clamp(0, 1), target).item()
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def split_pictures(n: int, held_out: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held out) of ``n`` pictures: a fixed random ``held_out`` share."""
    order = np.random.default_rng(seed).permutation(n)
    cut = max(1, round(n * held_out))
    return np.sort(order[cut:]), np.sort(order[:cut])


@dataclasses.dataclass(frozen=True)
class ColourVAEConfig:
    """The autoencoder's training run (a nanoGPT-style config: the checkpoint's key)."""

    latent_channels: int = 4
    width: int = 32
    epochs: int = 25
    batch_size: int = 64
    lr: float = 2e-3
    edge_weight: float = 1.0
    held_out: float = 0.05
    seed: int = 0

    def __post_init__(self):
        check_int("latent_channels", self.latent_channels, minimum=1, maximum=64)
        check_int("width", self.width, minimum=8, maximum=256)
        if self.width % 8:
            raise ValueError(
                f"width must be a multiple of 8 (GroupNorm's groups), not {self.width}"
            )
        check_int("epochs", self.epochs, minimum=1, maximum=10_000)
        check_int("batch_size", self.batch_size, minimum=1, maximum=4096)
        check_float("lr", self.lr, minimum=1e-6, maximum=1.0)
        check_float("edge_weight", self.edge_weight, minimum=0.0, maximum=100.0)
        check_float("held_out", self.held_out, minimum=0.01, maximum=0.5)
        check_int("seed", self.seed, minimum=0)

    def key(self) -> str:
        return config_key(self)


@dataclasses.dataclass
class VAEResult:
    vae: ColourVAE
    trace: list[dict]
    held_out_psnr: float
    train_seconds: float


def _checkpoint(config: ColourVAEConfig, pictures: torch.Tensor) -> Path:
    """The run's file in the course cache, named by the configuration and the pictures."""
    data = hashlib.sha256(pictures.mul(255).round().to(torch.uint8).numpy().tobytes())
    return cache_dir() / "colour" / f"colour-vae-{config.key()}-{data.hexdigest()[:8]}.pt"


def train_colour_vae(
    images: np.ndarray | torch.Tensor,
    config: ColourVAEConfig = ColourVAEConfig(),
    progress: bool = True,
    checkpoint: bool = True,
) -> VAEResult:
    """Train the autoencoder on ``images`` (uint8 ``(N, 64, 64, 3)`` or floats
    ``(N, 3, 64, 64)`` in [0, 1]); a fixed ``config.held_out`` share is never trained on and
    gives ``held_out_psnr``. Resumes from the course cache after an interruption."""
    pictures = _as_tensor(images)
    train_idx, held_idx = split_pictures(len(pictures), config.held_out, config.seed)
    train, held = pictures[train_idx], pictures[held_idx]
    torch.manual_seed(config.seed)
    # channels-last: oneDNN's convolutions run ~1.4 x faster on a 2-core CPU in this layout
    vae = ColourVAE(config.latent_channels, config.width).to(memory_format=torch.channels_last)
    train = train.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(vae.parameters(), lr=config.lr, weight_decay=0.0)
    steps = config.epochs * math.ceil(len(train) / config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=steps, pct_start=0.1)
    rng = torch.Generator().manual_seed(config.seed)
    path = _checkpoint(config, pictures) if checkpoint else None
    parts = {"vae": vae, "opt": opt, "sched": sched}
    trace, state = resume(path, dataclasses.asdict(config), parts, rng)
    seconds = state.get("seconds", 0.0)
    bar = progress_bar(total=config.epochs, desc="colour vae", disable=not progress)
    bar.update(len(trace))
    for epoch in range(len(trace), config.epochs):
        start = time.perf_counter()
        vae.train()
        order = torch.randperm(len(train), generator=rng)
        losses = []
        for i in range(0, len(train), config.batch_size):
            real = train[order[i : i + config.batch_size]]
            fake = torch.sigmoid(vae(real))
            loss = F.l1_loss(fake, real) + config.edge_weight * edge_loss(fake, real)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        seconds += time.perf_counter() - start
        row = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "psnr": _psnr(vae, held)}
        trace.append(row)
        bar.update(1)
        bar.set_postfix(loss=f"{row['loss']:.4f}", psnr=f"{row['psnr']:.2f}")
        if path is not None:
            save_progress(path, dataclasses.asdict(config), parts, rng, trace, seconds=seconds)
    bar.close()
    vae = vae.to(memory_format=torch.contiguous_format).eval()
    with torch.no_grad():
        latents = torch.cat([vae.encode(b) for b in train.split(256)])
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    return VAEResult(vae, trace, _psnr(vae, held), seconds)


@torch.no_grad()
def _psnr(vae: ColourVAE, pictures: torch.Tensor) -> float:
    was = vae.training
    vae.eval()
    out = torch.cat([vae.decode(vae.encode(b)) for b in pictures.split(256)])
    vae.train(was)
    return psnr(out, pictures)


def _as_tensor(images) -> torch.Tensor:
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (64, 64, 3):
            raise ValueError(
                f"images must be uint8 (N, 64, 64, 3), not {images.dtype} {images.shape}"
            )
        return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255).contiguous()
    if images.ndim != 4 or images.shape[1:] != (3, 64, 64):
        raise ValueError(f"images must be (N, 3, 64, 64), not {tuple(images.shape)}")
    if not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise ValueError("images must be finite and lie in [0, 1]")
    return images.float()
