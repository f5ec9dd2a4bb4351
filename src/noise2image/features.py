"""Feature extraction: hand-made filters and the course feature network.

The course feature network is a small CNN trained on ``mnist5k``. It is fully
convolutional up to a global average pool, so it takes pictures of any size:

* ``(B, 1, 28, 28)`` digits  -> ``features["block2"]``: ``(B, 64, 7, 7)``
* ``(B, 1, 64, 64)`` pictures -> ``features["block2"]``: ``(B, 64, 16, 16)``
  (the 16x16x64 maps of the pipeline's stage 3)
* ``features["embedding"]``: ``(B, 128)``, the penultimate layer, used by FID / KID
* logits: ``(B, 10)``

A trained copy ships inside the package (``checkpoints/feature_net.pt``), checked by
SHA-256 and loaded with ``weights_only=True``. It is re-created from scratch with

    python -m noise2image.shipped retrain feature-net

which trains with :data:`SHIPPED_CONFIG` and prints the test accuracy and the checksum.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import check_out_file, load_shipped_file, write_shipped
from .preprocess import blur, grey, random_blur, random_shift
from .profiles import check_choice, check_float, check_int

__all__ = [
    "FILTERS",
    "PHOTOS",
    "example_photo",
    "edge_likeness",
    "strongest_maps",
    "apply_filter",
    "FeatureConfig",
    "FeatureNet",
    "make_outliers",
    "train_step",
    "train_feature_net",
    "evaluate",
    "load_feature_net",
    "SHIPPED_CONFIG",
]

# ----------------------------------------------------------------------------- hand-made filters

FILTERS: dict[str, torch.Tensor] = {
    "sobel x (vertical edges)": torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "sobel y (horizontal edges)": torch.tensor([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "laplacian (all edges)": torch.tensor([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
    "sharpen (identity + laplacian)": torch.tensor([[-1.0, -1, -1], [-1, 9, -1], [-1, -1, -1]]),
    "box blur": torch.full((3, 3), 1.0 / 9),
}


def apply_filter(images: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Convolve every channel of ``(B, C, H, W)`` images with one 2-D kernel (same size out)."""
    channels = images.shape[1]
    weight = kernel.to(images).expand(channels, 1, *kernel.shape)
    pad = kernel.shape[-1] // 2
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    return F.conv2d(padded, weight, groups=channels)


PHOTOS = ("chelsea", "openmoji_cat")


def example_photo(name: str = "chelsea", size: int = 256) -> torch.Tensor:
    """A real picture to filter: ``(1, 3, size, size)`` in [0, 1].

    ``"chelsea"`` is the cat photograph shipped with scikit-image (centre square);
    ``"openmoji_cat"`` is OpenMoji's cat face drawn with the colour font.
    """
    from .data import render_openmoji
    from .preprocess import resize

    check_choice("photo", name, PHOTOS)
    if name == "chelsea":
        from skimage import data as skdata
        from torchvision.transforms.v2.functional import center_crop

        photo = torch.from_numpy(skdata.chelsea()).permute(2, 0, 1).float().div(255)[None]
        side = min(photo.shape[-2:])
        return resize(center_crop(photo, [side, side]), size)
    drawn = render_openmoji(["\U0001f431"], size)
    return torch.from_numpy(drawn).permute(0, 3, 1, 2).float().div(255)


def edge_likeness(kernels: torch.Tensor) -> torch.Tensor:
    """For each 3x3 kernel ``(K, 3, 3)``: best |cosine similarity| with a Sobel filter
    turned to one of eight directions (both zero-mean). 1 means exactly an edge filter."""
    import math

    sobel_x = FILTERS["sobel x (vertical edges)"]
    sobel_y = FILTERS["sobel y (horizontal edges)"]
    angles = [i * math.pi / 8 for i in range(8)]
    edges = torch.stack([math.cos(a) * sobel_x + math.sin(a) * sobel_y for a in angles])
    edges = edges.flatten(1)
    edges = edges / edges.norm(dim=1, keepdim=True)
    flat = kernels.detach().flatten(1)
    flat = flat - flat.mean(1, keepdim=True)
    flat = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (flat @ edges.T).abs().max(1).values


def strongest_maps(maps: torch.Tensor, k: int = 16) -> torch.Tensor:
    """The ``k`` maps of ``(C, H, W)`` with the largest spread, each scaled to [0, 1]:
    ``(k, 1, H, W)``, ready for :func:`noise2image.plotting.show_grid`."""
    spread = maps.flatten(1).std(1)
    chosen = maps[spread.argsort(descending=True)[:k]].unsqueeze(1)
    low = chosen.amin(dim=(2, 3), keepdim=True)
    high = chosen.amax(dim=(2, 3), keepdim=True)
    return (chosen - low) / (high - low).clamp_min(1e-6)


# ----------------------------------------------------------------------------- the network


@dataclass(frozen=True)
class FeatureConfig:
    """Hyperparameters of the feature network and its training."""

    epochs: int = 12
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    max_shift: int = 2  # augmentation: random shifts of up to this many pixels
    blur_share: float = 0.3  # augmentation: share of digits blurred a little (sigma 0.3-1)
    outlier_weight: float = 0.5  # weight of the "not a digit -> no confidence" loss
    seed: int = 0

    def __post_init__(self):
        check_int("epochs", self.epochs, minimum=1, maximum=500)
        check_int("batch_size", self.batch_size, minimum=1)
        check_float("lr", self.lr, minimum=1e-7, maximum=1.0)
        check_float("weight_decay", self.weight_decay, minimum=0.0)
        check_int("max_shift", self.max_shift, minimum=0, maximum=8)
        check_float("outlier_weight", self.outlier_weight, minimum=0.0)
        check_float("blur_share", self.blur_share, minimum=0.0, maximum=1.0)
        check_int("seed", self.seed, minimum=0)


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class FeatureNet(nn.Module):
    """A small CNN: ``(B, 1, H, W)`` in [0, 1] -> logits ``(B, 10)``.

    ``forward(x, return_features=True)`` also returns a dict of intermediate maps:
    ``block1`` ``(B, 32, H/2, W/2)``, ``block2`` ``(B, 64, H/4, W/4)``,
    ``block3`` ``(B, 128, H/4, W/4)`` and ``embedding`` ``(B, 128)``.
    Colour input ``(B, 3, H, W)`` is converted to grey first.
    """

    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(_conv(1, 32), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(_conv(32, 64), _conv(64, 64), nn.MaxPool2d(2))
        self.block3 = _conv(64, 128)
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        x = (grey(x) - 0.1307) / 0.3081  # MNIST statistics
        b1 = self.block1(x)
        b2 = self.block2(b1)
        b3 = self.block3(b2)
        embedding = b3.mean(dim=(2, 3))
        logits = self.head(self.dropout(embedding))
        if return_features:
            return logits, {"block1": b1, "block2": b2, "block3": b3, "embedding": embedding}
        return logits

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, 128)``: the penultimate features (used by FID/KID)."""
        return self.forward(x, return_features=True)[1]["embedding"]


# ----------------------------------------------------------------------------- training


def make_outliers(n: int, size: int, rng: torch.Generator, pictures: torch.Tensor | None):
    """``n`` pictures that are not digits: uniform noise, smooth blobs, and other pictures.

    ``pictures`` are grey ``(M, 1, size, size)`` non-digit images (for example emoji);
    the blobs are Gaussian-smoothed noise stretched to [0, 1]. Made on the CPU.
    """
    kinds = torch.randint(0, 3 if pictures is not None else 2, (n,), generator=rng)
    out = torch.rand(n, 1, size, size, generator=rng)
    blobs = blur(torch.rand(n, 1, size, size, generator=rng), 1.5, size=9)
    low = blobs.amin(dim=(2, 3), keepdim=True)
    high = blobs.amax(dim=(2, 3), keepdim=True)
    blobs = ((blobs - low) / (high - low + 1e-6) * 1.5 - 0.5).clamp(0, 1)
    out = torch.where((kinds == 1).view(n, 1, 1, 1), blobs, out)
    if pictures is not None:
        pick = pictures[torch.randint(0, len(pictures), (n,), generator=rng)]
        out = torch.where((kinds == 2).view(n, 1, 1, 1), pick, out)
    return out


def _emoji_outliers(size: int) -> torch.Tensor:
    """OpenMoji training pictures as grey, inverted (light strokes on dark, like MNIST)."""
    from .data import load_dataset

    emoji = load_dataset("openmoji", "train", seed=0).images
    return 1 - F.interpolate(grey(emoji), size=(size, size), mode="area")


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 500):
    """Accuracy (0-1) of ``model`` on ``images``/``labels`` (computed on the model's device)."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for i in range(0, len(images), batch):
        guess = model(images[i : i + batch].to(device)).argmax(1).cpu()
        correct += (guess == labels[i : i + batch].cpu()).sum().item()
    return correct / len(images)


def train_step(model, optimiser, x, y, outliers=None, outlier_weight=0.5):
    """One update of the feature network on digits ``x`` with labels ``y``.

    With ``outliers`` (pictures that are not digits), their target is "no confidence in
    any class": cross-entropy to the uniform distribution, weighted ``outlier_weight``.
    Returns the loss and the digits' logits.
    """
    if outliers is not None:
        all_logits = model(torch.cat([x, outliers]))
        logits = all_logits[: len(x)]
        to_uniform = -all_logits[len(x) :].log_softmax(1).mean()
        loss = F.cross_entropy(logits, y) + outlier_weight * to_uniform
    else:
        logits = model(x)
        loss = F.cross_entropy(logits, y)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss, logits


def train_feature_net(
    config: FeatureConfig,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> tuple[FeatureNet, list[dict]]:
    """Train a :class:`FeatureNet` with AdamW and a one-cycle schedule on ``device``;
    return it and a trace (one row per epoch: epoch, loss, train acc, val acc, seconds).

    ``train`` and ``val`` are ``(images, labels)`` tensors. A share of the digits is
    blurred a little (:func:`~noise2image.preprocess.random_blur`): a soft digit is still a
    digit. Every batch also holds half as many pictures that are *not* digits
    (:func:`make_outliers`) with the target "no confidence" (:func:`train_step`): without
    them the network calls pure noise an "8" with 100 % confidence, which would make the
    recognisability metric meaningless.
    """
    from .progress import progress_bar

    torch.manual_seed(config.seed)
    rng = torch.Generator().manual_seed(config.seed)
    model = FeatureNet().to(device)
    images, labels = train[0].to(device), train[1].to(device)
    pictures = _emoji_outliers(images.shape[-1]) if config.outlier_weight > 0 else None
    steps = -(-len(images) // config.batch_size)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.lr, total_steps=config.epochs * steps
    )
    trace = []
    bar = progress_bar(total=config.epochs * steps, desc="feature net", disable=not progress)
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(images), generator=rng).to(device)
        total, correct = 0.0, 0
        for i in range(0, len(images), config.batch_size):
            index = order[i : i + config.batch_size]
            x = random_shift(images[index], config.max_shift, rng)
            x = random_blur(x, config.blur_share, rng)
            outliers = None
            if config.outlier_weight > 0:
                outliers = make_outliers(len(index) // 2, x.shape[-1], rng, pictures).to(device)
            loss, logits = train_step(
                model, optimiser, x, labels[index], outliers, config.outlier_weight
            )
            schedule.step()
            total += loss.item() * len(index)
            correct += (logits.argmax(1) == labels[index]).sum().item()
            bar.update(1)
        row = {"epoch": epoch, "loss": total / len(images), "train acc": correct / len(images)}
        if val is not None:
            row["val acc"] = evaluate(model, *val)
        row["seconds"] = time.perf_counter() - start
        trace.append(row)
    bar.close()
    model.eval()
    return model, trace


# ----------------------------------------------------------------------------- the shipped copy

SHIPPED_CONFIG = FeatureConfig()
_STEM = "feature_net"


def load_feature_net(
    path: str | Path | None = None, device: str | torch.device = "cpu"
) -> FeatureNet:
    """The trained course feature network, in eval mode, on ``device``.

    Loads the checkpoint shipped inside the package (or ``path``) after checking its
    SHA-256 against ``feature_net.json``; raises ``CheckpointError`` if it differs.
    """
    payload, _ = load_shipped_file(_STEM, path)
    model = FeatureNet()
    model.load_state_dict(payload["state"]["model"])
    return model.to(device).eval()


def retrain_shipped(out: Path | None = None, config: FeatureConfig | None = None) -> dict:
    """Train with ``config`` (default :data:`SHIPPED_CONFIG`) on ``mnist5k`` (on the CPU,
    one thread, so the bits are reproducible) and write the checkpoint + metadata (or only
    the checkpoint to ``out``). :func:`noise2image.shipped.retrain` calls this."""
    config = config or SHIPPED_CONFIG
    from .data import load_dataset

    if out is not None:
        check_out_file(out)  # before the training, not after it

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # the same arithmetic order on every machine with this torch
    train = load_dataset("mnist5k", "train", seed=0)
    test = load_dataset("mnist5k", "test", seed=0)
    start = time.perf_counter()
    model, trace = train_feature_net(config, (train.images, train.labels))
    seconds = time.perf_counter() - start
    meta = {
        "test_accuracy": evaluate(model, test.images, test.labels),
        "train_seconds": round(seconds, 1),
        "torch": torch.__version__,
        "command": "python -m noise2image.shipped retrain feature-net",
    }
    return write_shipped(_STEM, {"model": model.state_dict()}, asdict(config), meta, out)


def main(argv: list[str] | None = None) -> int:
    """``python -m noise2image.features --retrain`` (or ``--out PATH``): this release's alias
    of ``python -m noise2image.shipped retrain feature-net [--out PATH]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m noise2image.features", description="Re-create the shipped feature network."
    )
    parser.add_argument(
        "--retrain", action="store_true", help="train and overwrite the shipped copy"
    )
    parser.add_argument("--out", help="write the checkpoint here instead")
    args = parser.parse_args(argv)
    if not (args.retrain or args.out):
        parser.print_help()
        return 0
    print(json.dumps(retrain_shipped(args.out), indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
