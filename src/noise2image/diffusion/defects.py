"""A defect detector for chapters 8 and 9: a small CNN that tells a clean digit from a
blurred, noisy, faint or blocky one (:data:`~noise2image.diffusion.captions.DEFECTS`),
trained on the course digits passed through the model's own autoencoder
(:func:`train_defect_detector`), so that it judges pictures as the decoder draws them.
Chapter 8 counts degraded pictures with it (:func:`defect_share`); chapter 9's ReNeg learns
against its probability of "clean".
"""

from __future__ import annotations

import torch

from .captions import crop28

__all__ = ["DefectDetector", "train_defect_detector", "detected_defects", "defect_share"]


class DefectDetector(torch.nn.Module):
    """A small CNN: ``(B, 1, 28, 28)`` -> logits over ``("clean", *DEFECTS)``."""

    def __init__(self):
        from torch import nn

        from .captions import DEFECTS

        super().__init__()
        self.classes = ("clean", *DEFECTS)
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2),  # 14x14
            nn.Conv2d(16, 32, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2),  # 7x7
            nn.Conv2d(32, 32, 3, padding=1), nn.SiLU(),
            nn.Flatten(), nn.Linear(32 * 7 * 7, len(self.classes)),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


def _degraded_copies(images: torch.Tensor, rng: torch.Generator):
    """Every picture once clean and once with each defect: ``(5N, 1, H, W)`` and class ids."""
    from .captions import DEFECTS, degrade

    parts, ids = [images], [torch.zeros(len(images), dtype=torch.long)]
    for k, defect in enumerate(DEFECTS, start=1):
        # a fresh strength for every chunk of 50 pictures
        parts.append(torch.cat([degrade(c, defect, rng) for c in images.split(50)]))
        ids.append(torch.full((len(images),), k, dtype=torch.long))
    return torch.cat(parts), torch.cat(ids)


def train_defect_detector(vae=None, epochs: int = 3, seed: int = 0, limit: int | None = None):
    """Train :class:`DefectDetector` on the training digits, clean and with each defect, all
    passed through ``vae`` (so that it judges pictures as the model's decoder draws them).
    Returns ``(detector, accuracy)``: its accuracy on the test digits treated the same way."""
    import torch.nn.functional as F

    from ..data import load_dataset

    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)

    def prepared(split, n=None):
        images = load_dataset("mnist5k", split, seed=0).images[:n]
        x, y = _degraded_copies(images, rng)
        if vae is not None:
            with torch.no_grad():
                device = next(vae.parameters()).device
                x = torch.cat(
                    [crop28(vae.decode(vae.encode(p.to(device)))).cpu() for p in x.split(1000)]
                )
        return x, y

    x, y = prepared("train", limit)
    detector = DefectDetector()
    opt = torch.optim.Adam(detector.parameters(), lr=2e-3)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=rng)
        for chosen in order.split(128):
            loss = F.cross_entropy(detector(x[chosen]), y[chosen])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    detector.eval().requires_grad_(False)
    xt, yt = prepared("test", None if limit is None else max(50, limit // 8))
    accuracy = (detector(xt).argmax(1) == yt).float().mean().item()
    return detector, accuracy


@torch.no_grad()
def detected_defects(images: torch.Tensor, detector: DefectDetector) -> list[str]:
    """The detector's verdict on each picture: ``"clean"`` or a defect's name."""
    ids = torch.cat([detector(part).argmax(1) for part in images.split(1000)])
    return [detector.classes[i] for i in ids.tolist()]


def defect_share(images: torch.Tensor, detector: DefectDetector) -> float:
    """Share (0-1) of ``images`` the detector calls degraded (any defect)."""
    return sum(v != "clean" for v in detected_defects(images, detector)) / len(images)
