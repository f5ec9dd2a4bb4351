"""Chapter 8's claims about the shipped model and its negative prompts, decided by the
course's one rule (:mod:`noise2image.claims`) on fresh seeds.

Each evaluation seed draws new starting noise for every comparison (the chapter's own
figures and choices use ``seed``; these seeds were never seen by them). Shares of pictures
(classified as asked, degraded by the detector, style matches, sevens) are pooled counts
over the seeds with 95 % intervals; FID and clarity are one number per seed, and a bar on
them holds only when every seed passes it. As chapter 8 calls it::

    rows = negative_prompt_claims(pipe, evaluator, thresholds, seeds=(1, 2, 3),
                                  per_digit=30, quality_negative="blurry, noisy",
                                  real=validation_digits, guidance_scale=4.0)
    claims.table(rows)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch

from .. import claims as rule
from ..profiles import ParameterError, check_int
from .evaluate import digit_prompts, pictures_for, predicted_digits, style_match

__all__ = ["CLAIMS", "negative_prompt_claims"]

CLAIMS = {
    "asked": "prompts 'a {digit}': classified as asked >= 95 %",
    "fid": "FID <= 2x the real-vs-real baseline",
    "clarity": "clarity >= 90",
    "bold slanted seven": "'a bold slanted seven' matches its words >= 80 %",
    "bold slanted": "'a bold slanted {digit}', every digit: matches >= 80 %",
    "thin upright": "'a thin upright {digit}', every digit: matches >= 80 %",
    "quality halves": "quality negative: degraded share at least halved (detector)",
    "quality cost": "quality negative: classified as asked down by <= 2 points",
    "concept": "concept negative: sevens <= 1/4 of their share",
    "interval fid": "with guidance only below σ 0.5: FID <= 2x the baseline",
    "interval concept": (
        "with guidance only below σ 0.5: concept negative's sevens <= 1/4 of their share"
    ),
}
"""The chapter's claims, in its table's order (the bars are the chapter's own targets)."""


def _count(flags: torch.Tensor) -> int:
    return int(flags.sum())


@torch.no_grad()
def negative_prompt_claims(
    pipe,
    evaluator,
    thresholds,
    seeds: Sequence[int],
    per_digit: int,
    quality_negative: str,
    real: torch.Tensor,
    progress: bool = True,
    **call,
) -> list[rule.Verdict]:
    """Every claim of :data:`CLAIMS` as a :class:`~noise2image.claims.Verdict`, measured on
    ``seeds`` with ``per_digit`` pictures per digit and comparison per seed. ``evaluator``
    is the chapter's :class:`~noise2image.diffusion.evaluate.Evaluator` (with its defect
    detector); ``real`` real digits other than the evaluator's test digits (validation
    digits): as many of them as one seed's pictures give the FID baseline, at the same n
    (FID depends on n); ``call`` goes to the pipeline (``guidance_scale``,
    ``num_inference_steps``)."""
    from ..metrics import clarity_score, fid
    from ..progress import progress_bar
    from .defects import detected_defects

    if not isinstance(seeds, Sequence) or isinstance(seeds, str) or not seeds:
        raise ParameterError(f"seeds={seeds!r} must be a non-empty list of whole numbers")
    seeds = [check_int(f"seeds[{i}]", s, minimum=0) for i, s in enumerate(seeds)]
    check_int("per_digit", per_digit, minimum=1)
    if evaluator.detector is None:
        raise ParameterError("evaluator must have a defect detector (Evaluator(detector=...))")
    prompts, asked = digit_prompts(per_digit)
    if not isinstance(real, torch.Tensor) or len(real) < len(prompts):
        raise ParameterError(
            f"real must hold at least {len(prompts)} pictures (one seed's), not "
            f"{len(real) if isinstance(real, torch.Tensor) else type(real).__name__}"
        )
    real_fid = fid(evaluator.real, real[: len(prompts)], evaluator.net)
    digits = ["a digit"] * len(prompts)
    interval = {**call, "guidance_interval": (0.0, 0.5)}
    counts: dict[str, int] = defaultdict(int)
    values: dict[str, list[float]] = defaultdict(list)

    def degraded(images):
        return sum(v != "clean" for v in detected_defects(images, evaluator.detector))

    def sevens(images):
        return _count(predicted_digits(images, evaluator.net) == 7)

    bar = progress_bar(total=len(seeds), desc="claims on fresh seeds", disable=not progress)
    for seed in seeds:
        base = pictures_for(pipe, prompts, seed, **call)
        values["fid"].append(fid(evaluator.real, base, evaluator.net) / real_fid)
        values["clarity"].append(clarity_score(base, evaluator.degraded.reference))
        counts["asked"] += _count(predicted_digits(base, evaluator.net) == asked)
        counts["degraded"] += degraded(base)
        negative = pictures_for(pipe, prompts, seed, negative_prompt=quality_negative, **call)
        counts["asked, quality negative"] += _count(
            predicted_digits(negative, evaluator.net) == asked
        )
        counts["degraded, quality negative"] += degraded(negative)
        seven = pictures_for(pipe, ["a bold slanted seven"] * len(prompts), seed, **call)
        counts["bold slanted seven"] += round(
            style_match(seven, ["bold", "slanted"], thresholds) * len(seven)
        )
        for key, template, words in [
            ("bold slanted", "a bold slanted {digit}", ["bold", "slanted"]),
            ("thin upright", "a thin upright {digit}", ["thin", "upright"]),
        ]:
            styled = pictures_for(pipe, digit_prompts(per_digit, template)[0], seed, **call)
            counts[key] += round(style_match(styled, words, thresholds) * len(styled))
        counts["sevens"] += sevens(pictures_for(pipe, digits, seed, **call))
        counts["sevens, concept negative"] += sevens(
            pictures_for(pipe, digits, seed, negative_prompt="seven", **call)
        )
        half = pictures_for(pipe, prompts, seed, **interval)
        values["interval fid"].append(fid(evaluator.real, half, evaluator.net) / real_fid)
        counts["sevens, interval"] += sevens(
            pictures_for(pipe, digits, seed, negative_prompt="seven", **interval)
        )
        bar.update()
    bar.close()
    n = len(prompts) * len(seeds)
    return [
        rule.share_bar(CLAIMS["asked"], counts["asked"], n, 0.95),
        rule.seeds_bar(CLAIMS["fid"], values["fid"], 2.0, "below"),
        rule.seeds_bar(CLAIMS["clarity"], values["clarity"], 90.0, "above"),
        rule.share_bar(CLAIMS["bold slanted seven"], counts["bold slanted seven"], n, 0.8),
        rule.share_bar(CLAIMS["bold slanted"], counts["bold slanted"], n, 0.8),
        rule.share_bar(CLAIMS["thin upright"], counts["thin upright"], n, 0.8),
        rule.share_ratio(CLAIMS["quality halves"], counts["degraded"], n,
                         counts["degraded, quality negative"], n, 0.5),
        rule.share_drop(CLAIMS["quality cost"], counts["asked"], n,
                        counts["asked, quality negative"], n, 0.02),
        rule.share_ratio(CLAIMS["concept"], counts["sevens"], n,
                         counts["sevens, concept negative"], n, 0.25),
        rule.seeds_bar(CLAIMS["interval fid"], values["interval fid"], 2.0, "below"),
        rule.share_ratio(CLAIMS["interval concept"], counts["sevens"], n,
                         counts["sevens, interval"], n, 0.25),
    ]  # fmt: skip
