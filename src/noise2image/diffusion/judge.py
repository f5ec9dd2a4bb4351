"""A second judge for chapter 9: a digit classifier the optimisers never saw.

Chapter 9's reward reads the digits with the course classifier (chapter 3's network) and
so does its evaluation; an optimiser trained against that reward can learn what pleases
that one network rather than what makes a clearer digit. This judge differs from it in
what it learned from and in how it is built: an MLP (no convolutions) trained on the
``val`` split of the course digits, which neither the course classifier, the text-to-image
model nor any reward of chapter 9 was trained on (they use ``train``), with small random
shifts. Its accuracy on the real ``test`` digits is returned with it, so a reader can
weigh its verdicts.

>>> judge, accuracy = train_judge()
>>> judged_as_asked(judge, pictures, asked)          # a share, 0-1
"""

from __future__ import annotations

import torch

__all__ = ["DigitJudge", "train_judge", "judged_digits", "judged_as_asked"]


class DigitJudge(torch.nn.Module):
    """An MLP over the pixels: ``(B, 1, 28, 28)`` in [0, 1] -> logits over the ten digits."""

    def __init__(self, hidden: int = 256):
        from torch import nn

        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(28 * 28, hidden), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 10),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


def _shifted(x: torch.Tensor, rng: torch.Generator, most: int = 2) -> torch.Tensor:
    """Each picture moved by up to ``most`` pixels in each direction (zeros fill in)."""
    out = torch.zeros_like(x)
    shifts = torch.randint(-most, most + 1, (len(x), 2), generator=rng)
    for i, (dy, dx) in enumerate(shifts.tolist()):
        out[i] = torch.roll(x[i], (dy, dx), dims=(-2, -1))
        if dy > 0:
            out[i, :, :dy] = 0
        elif dy < 0:
            out[i, :, dy:] = 0
        if dx > 0:
            out[i, :, :, :dx] = 0
        elif dx < 0:
            out[i, :, :, dx:] = 0
    return out


def train_judge(epochs: int = 120, seed: int = 0) -> tuple[DigitJudge, float]:
    """Train :class:`DigitJudge` on the ``val`` split of the course digits (disjoint from the
    ``train`` split every other model of chapters 8-9 learned from). Returns ``(judge,
    accuracy)``: its accuracy on the real ``test`` digits. A few seconds on a CPU."""
    import torch.nn.functional as F

    from ..data import load_dataset
    from ..profiles import check_int

    check_int("epochs", epochs, minimum=1)
    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    val = load_dataset("mnist5k", "val", seed=0)
    x, y = val.images.float(), val.labels.long()
    judge = DigitJudge()
    opt = torch.optim.Adam(judge.parameters(), lr=1e-3, weight_decay=1e-4)
    judge.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=rng)
        for chosen in order.split(64):
            loss = F.cross_entropy(judge(_shifted(x[chosen], rng)), y[chosen])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    judge.eval().requires_grad_(False)
    test = load_dataset("mnist5k", "test", seed=0)
    accuracy = (judged_digits(judge, test.images) == test.labels).float().mean().item()
    return judge, accuracy


@torch.no_grad()
def judged_digits(judge: DigitJudge, images: torch.Tensor) -> torch.Tensor:
    """The digit the judge reads in each picture ``(N, 1, 28, 28)``."""
    return torch.cat([judge(part.float().cpu()).argmax(1) for part in images.split(500)])


def judged_as_asked(judge: DigitJudge, images: torch.Tensor, asked) -> float:
    """The share (0-1) of ``images`` the judge reads as the digit asked for (``asked``: one
    digit per picture)."""
    asked = torch.as_tensor(asked).long().cpu()
    if len(asked) != len(images):
        raise ValueError(f"asked must hold one digit per picture: {len(asked)} for {len(images)}")
    return (judged_digits(judge, images) == asked).float().mean().item()
