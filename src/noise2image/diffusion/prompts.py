"""The prompts chapter 9 optimises negatives for: the course's (digit, style words) prompts,
their split into prompts an optimiser trains on and prompts it is judged on, and the web's
negative-prompt words the course model never read (:data:`IRRELEVANT`).

Shared by the reward, the community data set, the prompt model, ReNeg and the comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .captions import DIGIT_WORDS, with_article

__all__ = [
    "STYLES",
    "IRRELEVANT",
    "CoursePrompt",
    "course_prompts",
    "split_prompts",
]

STYLES = ("", "bold", "thin", "slanted", "upright", "bold slanted", "thin upright")
# words a web community puts in negative prompts that the course model never read
IRRELEVANT = ("low quality", "worst quality", "ugly", "watermark", "jpeg artifacts", "text")


@dataclass(frozen=True)
class CoursePrompt:
    """A prompt of the course: its text, the digit it asks for (``None`` for "a digit") and
    its style words."""

    text: str
    digit: int | None
    words: tuple[str, ...]


def course_prompts(
    styles: Sequence[str] = STYLES, digits: Sequence[int] = range(10)
) -> list[CoursePrompt]:
    """Every digit of ``digits`` with every style of ``styles`` (``""``: no style word):
    ``"a seven"``, ``"a bold seven"``, ``"a bold slanted seven"``, ..."""
    out = []
    for style in styles:
        words = tuple(style.split())
        for d in digits:
            name = DIGIT_WORDS[d]
            out.append(CoursePrompt(with_article(" ".join(["a", *words, name])), d, words))
    return out


def split_prompts(
    styles: Sequence[str] = STYLES,
    digits: Sequence[int] = range(10),
    test_digits: int = 3,
    seed: int = 0,
) -> tuple[list[CoursePrompt], list[CoursePrompt]]:
    """Split the course prompts by prompt: for every style, ``test_digits`` digits drawn at
    random are held out (every style and every digit stays in the training prompts of some
    other combination). Returns ``(train, test)``."""
    rng = torch.Generator().manual_seed(seed)
    train, test = [], []
    for style in styles:
        prompts = course_prompts((style,), digits)
        held = set(torch.randperm(len(prompts), generator=rng)[:test_digits].tolist())
        for i, prompt in enumerate(prompts):
            (test if i in held else train).append(prompt)
    return train, test
