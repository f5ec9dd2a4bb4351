"""Chapter 10's course emoji classifier: which Unicode subgroup a 64 × 64 × 3 picture shows
(``animal-mammal``, ``heart``, ``hand-fingers-closed``, … — 99 subgroups), trained on the
real emoji, as chapter 3's network reads digits. It gives "classified as asked" for the
model's pictures and its 128-wide embedding is the feature space for FID/KID on colour.

The split is by **emoji, not by picture**: every skin-tone variant of an emoji falls on the
same side, so the test accuracy is measured on emoji the network never saw in any tone.

Shapes: ``(B, 3, 64, 64)`` in [0, 1] → logits ``(B, n_classes)``; ``embed`` → ``(B, 128)``.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..profiles import check_float, check_int

__all__ = [
    "ClassifierConfig",
    "EmojiNet",
    "subgroups",
    "split_by_emoji",
    "train_emoji_classifier",
    "accuracy",
]


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    epochs: int = 15
    batch_size: int = 64
    lr: float = 3e-3
    width: int = 32
    max_shift: int = 4  # augmentation: shifts of up to this many pixels
    noise: float = 0.05  # augmentation: Gaussian noise up to this standard deviation
    test_share: float = 0.1  # the share of emoji (all their tones) kept for the test
    seed: int = 0

    def __post_init__(self):
        check_int("epochs", self.epochs, minimum=1, maximum=1000)
        check_int("batch_size", self.batch_size, minimum=1, maximum=4096)
        check_float("lr", self.lr, minimum=1e-6, maximum=1.0)
        check_int("width", self.width, minimum=8, maximum=256)
        check_int("max_shift", self.max_shift, minimum=0, maximum=16)
        check_float("noise", self.noise, minimum=0.0, maximum=1.0)
        check_float("test_share", self.test_share, minimum=0.0, maximum=0.5)
        check_int("seed", self.seed, minimum=0)


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class EmojiNet(nn.Module):
    """``(B, 3, 64, 64)`` in [0, 1] → logits ``(B, n_classes)``: four conv stages (64, 32,
    16, 8 pixels), a global average pool to the 128-wide embedding, a linear head."""

    def __init__(self, n_classes: int, width: int = 32):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv(3, w), nn.MaxPool2d(2),  # 32
            _conv(w, 2 * w), nn.MaxPool2d(2),  # 16
            _conv(2 * w, 4 * w), _conv(4 * w, 4 * w), nn.MaxPool2d(2),  # 8
            _conv(4 * w, 128),
        )  # fmt: skip
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(128, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, 64, 64)`` → ``(B, 128)``."""
        return self.features(x * 2 - 1).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(x)))


def subgroups(entries) -> list[str]:
    """The classes: every subgroup of ``entries``, sorted."""
    return sorted({e.subgroup for e in entries})


def split_by_emoji(entries, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): a ``share`` of the emoji *names* (with all their tones) is test."""
    names = sorted({e.name for e in entries})
    rng = np.random.default_rng(seed)
    test_names = set(rng.choice(names, size=round(len(names) * share), replace=False))
    test = np.array([i for i, e in enumerate(entries) if e.name in test_names], dtype=int)
    train = np.array([i for i, e in enumerate(entries) if e.name not in test_names], dtype=int)
    return train, test


def _augment(x: torch.Tensor, config: ClassifierConfig, rng: torch.Generator) -> torch.Tensor:
    if config.max_shift:
        s = config.max_shift
        padded = F.pad(x, (s, s, s, s), value=1.0)  # white page
        dx, dy = torch.randint(0, 2 * s + 1, (2,), generator=rng).tolist()
        x = padded[..., dy : dy + 64, dx : dx + 64]
    if config.noise:
        level = torch.rand(len(x), 1, 1, 1, generator=rng) * config.noise
        x = (x + level * torch.randn(x.shape, generator=rng)).clamp(0, 1)
    return x


@torch.no_grad()
def accuracy(model: EmojiNet, pictures: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``pictures`` whose most likely class is ``labels``."""
    model.eval()
    guess = torch.cat([model(b).argmax(1) for b in pictures.split(256)])
    return (guess == labels).float().mean().item()


def train_emoji_classifier(
    images: np.ndarray, entries, config: ClassifierConfig = ClassifierConfig(), progress=True
) -> tuple[EmojiNet, list[str], list[dict]]:
    """Train on the pictures of :func:`split_by_emoji`'s train side; returns the network,
    its classes and a trace (epoch, loss, train acc, test acc on unseen emoji, seconds)."""
    from ..progress import progress_bar

    classes = subgroups(entries)
    labels = torch.tensor([classes.index(e.subgroup) for e in entries])
    pictures = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
    train, test = split_by_emoji(entries, config.test_share, config.seed)
    torch.manual_seed(config.seed)
    rng = torch.Generator().manual_seed(config.seed)
    model = EmojiNet(len(classes), config.width).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    steps = -(-len(train) // config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=config.epochs * steps)
    trace = []
    bar = progress_bar(total=config.epochs, desc="emoji classifier", disable=not progress)
    x_train = pictures[train].contiguous(memory_format=torch.channels_last)
    y_train = labels[train]
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train), generator=rng)
        total, correct = 0.0, 0
        for i in range(0, len(train), config.batch_size):
            index = order[i : i + config.batch_size]
            logits = model(_augment(x_train[index], config, rng))
            loss = F.cross_entropy(logits, y_train[index], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(index)
            correct += (logits.argmax(1) == y_train[index]).sum().item()
        row = {"epoch": epoch, "loss": total / len(train), "train acc": correct / len(train)}
        if len(test):
            row["test acc (unseen emoji)"] = accuracy(model, pictures[test], labels[test])
        row["seconds"] = time.perf_counter() - start
        trace.append(row)
        bar.update(1)
    bar.close()
    return model.to(memory_format=torch.contiguous_format).eval(), classes, trace
