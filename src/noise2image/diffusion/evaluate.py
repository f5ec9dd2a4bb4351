"""Measuring a text-to-image model (chapter 8): what the pictures show, against what was asked.

* :func:`pictures_for` -- many pictures for a list of prompts, in batches, one seed;
* :func:`classified_as_asked` -- the share the course classifier reads as the digit asked for;
* :func:`style_match` -- the share whose *measured* style (thickness, slant) matches the
  prompt's style words, with the thresholds the captions were made with;
* :func:`degraded_share` -- the share of degraded-looking pictures: per-picture clarity below
  the 5th percentile of real test digits;
* :func:`compare_negatives` -- one prompt under several negative prompts, on the same seeds,
  each with its numbers: the comparison the chapter shows, for any pipeline with Stable
  Diffusion's call.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .captions import DIGIT_WORDS, crop28
from .defects import defect_share

__all__ = [
    "crop28",
    "digit_prompts",
    "pictures_for",
    "classified_as_asked",
    "predicted_digits",
    "asked_accuracy",
    "style_match",
    "style_row",
    "DegradedReference",
    "degraded_share",
    "compare_negatives",
    "diversity",
    "Evaluator",
]


def digit_prompts(per_digit: int, template: str = "a {digit}") -> tuple[list[str], torch.Tensor]:
    """``per_digit`` prompts for every digit (``"a zero"``, ``"a one"``, ...), and the digits."""
    labels = torch.arange(10).repeat_interleave(per_digit)
    from .captions import with_article

    prompts = [with_article(template.format(digit=DIGIT_WORDS[d])) for d in labels.tolist()]
    return prompts, labels


def pictures_for(
    pipe, prompts: Sequence[str], seed: int = 0, batch: int = 500, negative_prompt=None, **kwargs
) -> torch.Tensor:
    """Pictures ``(N, 1, 28, 28)`` on the CPU for ``prompts`` (one each), the noise drawn from
    one generator seeded with ``seed``; ``kwargs`` go to the pipeline call. The same seed and
    prompts give the same starting noise whatever the negative prompt: the comparisons
    in chapter 8 are made on the same seeds. ``negative_prompt_embeds`` may be one embedding
    ``(1, T, D)`` for all prompts (chapter 9's learned one) or one per prompt."""
    generator = torch.Generator().manual_seed(seed)
    prompts = list(prompts)
    if isinstance(negative_prompt, str) or negative_prompt is None:
        negatives = [negative_prompt or ""] * len(prompts)
    else:
        negatives = list(negative_prompt)
    embeds = kwargs.pop("negative_prompt_embeds", None)
    parts = []
    for start in range(0, len(prompts), batch):
        chunk = prompts[start : start + batch]
        if embeds is not None:  # one learned negative embedding (1, T, D) for every prompt
            kwargs["negative_prompt_embeds"] = (
                embeds.expand(len(chunk), -1, -1)
                if len(embeds) == 1
                else embeds[start : start + batch]
            )
        out = pipe(
            chunk,
            negative_prompt=negatives[start : start + batch],
            generator=generator,
            output_type="pt",
            **kwargs,
        ).images
        parts.append(crop28(out.float().cpu()))
    return torch.cat(parts)


@torch.no_grad()
def predicted_digits(images: torch.Tensor, net=None) -> torch.Tensor:
    """The course classifier's digit for each picture ``(N, 1, 28, 28)``."""
    from ..features import load_feature_net

    net = net or load_feature_net()
    device = next(net.parameters()).device
    return torch.cat([net(part.to(device)).argmax(1).cpu() for part in images.split(500)])


def classified_as_asked(images: torch.Tensor, labels: torch.Tensor, net=None) -> float:
    """Share (0-1) of ``images`` that the course classifier reads as ``labels``."""
    return (predicted_digits(images, net) == labels.cpu()).float().mean().item()


def asked_accuracy(pipe, per_digit: int = 50, steps: int = 25, guidance: float = 4.0, seed=0):
    """:func:`classified_as_asked` for ``"a zero"`` ... ``"a nine"``, ``per_digit`` each."""
    prompts, labels = digit_prompts(per_digit)
    images = pictures_for(pipe, prompts, seed, num_inference_steps=steps, guidance_scale=guidance)
    return classified_as_asked(images, labels)


def style_match(images: torch.Tensor, words: Sequence[str], thresholds) -> float:
    """Share (0-1) of ``images`` whose measured style has every style word in ``words``
    (``"bold"``, ``"thin"``, ``"slanted"``, ``"upright"``) past its caption threshold."""
    from .captions import slant, thickness

    ok = torch.ones(len(images), dtype=torch.bool)
    t, s = thickness(images), slant(images)
    for word in words:
        if word == "bold":
            ok &= t > thresholds.bold
        elif word == "thin":
            ok &= t < thresholds.thin
        elif word == "slanted":
            ok &= s > thresholds.slanted
        elif word == "upright":
            ok &= s.abs() < thresholds.upright
        else:
            raise ValueError(f"not a style word: {word!r} (known: bold, thin, slanted, upright)")
    return ok.float().mean().item()


def style_row(images: torch.Tensor, thresholds, words: Sequence[str] | None = None) -> dict:
    """Chapter 8's style table row for ``images``: mean thickness (px), the shares measured
    bold, slanted, and both, and with ``words`` the share matching all of them."""
    from .captions import thickness

    row = {
        "thickness": thickness(images).mean().item(),
        "bold": style_match(images, ["bold"], thresholds),
        "slanted": style_match(images, ["slanted"], thresholds),
        "bold and slanted": style_match(images, ["bold", "slanted"], thresholds),
    }
    if words is not None:
        row["both words"] = style_match(images, words, thresholds)
    return row


class DegradedReference:
    """The line below which a picture looks degraded: the 5th percentile of the per-picture
    clarity of ``n`` real test digits (or of ``real``), with clarity's reference set on them."""

    def __init__(self, real: torch.Tensor | None = None, n: int = 500, quantile: float = 0.05):
        from ..data import load_dataset
        from ..metrics import clarity_reference, clarity_score

        if real is None:
            real = load_dataset("mnist5k", "test", seed=0).images[:n]
        self.reference = clarity_reference(real)
        scores = clarity_score(real, self.reference, per_image=True)
        self.threshold = scores.quantile(quantile).item()
        self.quantile = quantile

    def scores(self, images: torch.Tensor) -> torch.Tensor:
        from ..metrics import clarity_score

        return clarity_score(images, self.reference, per_image=True)


def degraded_share(images: torch.Tensor, reference: DegradedReference) -> float:
    """Share (0-1) of ``images`` whose own clarity is below ``reference.threshold``."""
    return (reference.scores(images) < reference.threshold).float().mean().item()


def compare_negatives(
    pipe,
    prompts: Sequence[str],
    negatives: Sequence[str],
    measure,
    seed: int = 0,
    **kwargs,
) -> tuple[dict[str, dict], dict[str, torch.Tensor]]:
    """``prompts`` under each negative prompt of ``negatives`` on the same seeds, with
    ``measure(images) -> dict`` of each: ``(table, pictures)`` keyed by negative prompt.
    Works with any pipeline with Stable Diffusion's call (``pipe(prompt,
    negative_prompt=..., generator=..., output_type="pt")``)."""
    table, pictures = {}, {}
    for negative in negatives:
        images = pictures_for(pipe, prompts, seed, negative_prompt=negative, **kwargs)
        pictures[negative] = images
        table[negative or "(none)"] = measure(images)
    return table, pictures


# ----------------------------------------------------------------------------- one evaluator


@torch.no_grad()
def diversity(images: torch.Tensor, groups: torch.Tensor, net=None) -> float:
    """Mean pairwise distance of the course network's embeddings of ``images`` within each
    group (pictures of the same prompt), averaged over the groups."""
    from ..features import load_feature_net

    net = net or load_feature_net()
    device = next(net.parameters()).device
    emb = torch.cat([net.embed(p.to(device)).cpu() for p in images.split(500)])
    spreads = []
    for g in groups.unique():
        e = emb[groups == g]
        if len(e) > 1:
            d = torch.cdist(e, e)
            spreads.append(d.sum() / (len(e) * (len(e) - 1)))
    return torch.stack(spreads).mean().item()


class Evaluator:
    """Every number chapter 8 reports for a batch of generated digits, set up once.

    ``evaluator(images, asked=labels)`` -> clarity, FID (against the first ``n`` test
    digits), classified as asked (when ``asked`` is given), degraded (share below the
    5th percentile of real per-picture clarity), defects (share the defect detector calls
    degraded, when one is given), thickness (mean, pixels) and diversity (real digits = 1,
    when ``asked`` is given).
    """

    def __init__(self, n: int = 500, detector=None, thresholds=None):
        from ..data import load_dataset
        from ..features import load_feature_net

        test = load_dataset("mnist5k", "test", seed=0)
        self.net = load_feature_net()
        self.real = test.images[:n]
        self.real_labels = test.labels[:n]
        self.degraded = DegradedReference(self.real)
        self.detector = detector
        self.thresholds = thresholds
        self.real_diversity = diversity(self.real, self.real_labels, self.net)

    def __call__(self, images: torch.Tensor, asked: torch.Tensor | None = None) -> dict:
        from ..metrics import clarity_score, fid
        from .captions import thickness

        row = {
            "clarity": clarity_score(images, self.degraded.reference),
            "FID": fid(self.real, images, self.net),
        }
        if asked is not None:
            row["classified as asked"] = classified_as_asked(images, asked, self.net)
        row["degraded (clarity)"] = degraded_share(images, self.degraded)
        if self.detector is not None:
            row["degraded (detector)"] = defect_share(images, self.detector)
        row["thickness"] = thickness(images).mean().item()
        if asked is not None:
            row["diversity"] = diversity(images, asked, self.net) / self.real_diversity
        return row
