"""Chapter 8's claims about the shipped model and its negative prompts, decided by the
course's one rule (:mod:`noise2image.claims`) on fresh seeds.

Each evaluation seed draws new starting noise for every comparison (the chapter's own
figures and choices use ``seed``; these seeds were never seen by them). Shares of pictures
(classified as asked, degraded by the detector, style matches, sevens) are pooled counts
over the seeds with 95 % intervals; FID and clarity are one number per seed, and a bar on
them holds only when every seed passes it. As chapter 8 calls it::

    fresh = measure(pipe, evaluator, thresholds, seeds=(1, 2, 3), per_digit=30,
                    quality_negative="blurry, noisy", real=validation_digits,
                    low_scale=2.0, high_scale=12.0, guidance_scale=4.0)
    rows = decide(fresh)  # or both at once: negative_prompt_claims(...)
    claims.table(rows)
    verdict_words(rows)  # the words each section's sentence uses for its verdict
    fresh.glued()  # the pooled shares (%) and per-seed means the sentences quote

The first rows are the bars the chapter was built to; the rest are the comparisons its
sections' sentences rest on (each section shows the chapter's own seed, and quotes these).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .. import claims as rule
from ..profiles import ParameterError, check_float, check_int
from .captions import thickness
from .evaluate import digit_prompts, diversity, pictures_for, predicted_digits, style_match

__all__ = [
    "CLAIMS",
    "WORDS",
    "Fresh",
    "measure",
    "decide",
    "negative_prompt_claims",
    "verdict_words",
]

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
    "guidance defects": "guidance alone (scale {scale:g} vs 1): degraded share at least halved",
    "guidance diversity": "guidance (scale {scale:g} vs 1) lowers diversity",
    "low scale quality": "at scale {low:g}: quality negative halves the degraded share",
    "blurry": "'blurry' alone lowers the degraded share",
    "bold thinner": "'a seven', negative 'bold': thinner strokes",
    "self negative": "'a seven', negative 'seven': classified as asked less often",
    "bold negated": "'a bold seven', negative 'bold': measured bold less often",
    "bold partly": "'a bold seven', negative 'bold': still bold more often than 'a seven'",
    "rescale": "at scale {high:g}: guidance_rescale 0.7 lowers the FID",
    "interval grip": "with guidance only below σ 0.5: more sevens despite the concept negative",
    "interval defects": "with guidance only below σ 0.5: more pictures degraded (detector)",
}
"""The chapter's claims, in its table's order: first the bars the chapter was built to, then
the comparisons its sections' sentences rest on (``{scale}``, ``{low}``, ``{high}``: the
guidance scales compared)."""

WORDS = {
    "guidance defects": ("removes most of them", "leaves more than half of them",
                         "is not shown to remove most of them"),
    "guidance diversity": ("makes the pictures more alike: it leans towards typical versions of "
                           "what was asked", "does not make the pictures more alike",
                           "is not shown to make the pictures more alike"),
    "low scale quality": ("removes most of the rest", "leaves more than half of the rest",
                          "is not shown to remove most of the rest"),
    "quality halves": ("at least halves", "does not halve", "is not shown to halve"),
    "blurry": ("lowers", "raises", "is not shown to change"),
    "bold thinner": ("thinner", "bolder, not thinner", "not shown to be thinner"),
    "concept": ("at most a quarter of", "more than a quarter of",
                "not shown to be at most a quarter of", "not comparable with"),
    "interval concept": ("at most a quarter of", "more than a quarter of",
                         "not shown to be at most a quarter of", "not comparable with"),
    "self negative": ("part of what guidance added to the digit is lost",
                      "the share read as a seven is even higher",
                      "whether it costs the digit anything is not shown"),
    "rescale": ("lowers", "raises", "is not shown to lower"),
    "interval grip": ("loses part of its grip on", "tightens its grip on",
                      "is not shown to lose its grip on"),
    "interval defects": ("guidance at high noise levels, which makes the pictures alike, is "
                         "also where defects are cleaned up", "with guidance only at low noise "
                         "levels fewer pictures are degraded", "whether guidance at high noise "
                         "levels cleans up defects is not shown"),
}  # fmt: skip
"""The words a section's sentence uses for a row's verdict: (held, not held, not shown, and
for a concept row, not testable here: the prompt alone drew no sevens)."""


def _count(flags: torch.Tensor) -> int:
    return int(flags.sum())


@dataclass(frozen=True)
class Fresh:
    """What :func:`measure` counted on the fresh seeds: ``counts`` of pictures (``n`` per
    comparison, pooled over the seeds) and ``values`` (one per seed: FID as a multiple of
    the real baseline, clarity, diversity relative to real digits, thickness in px), with
    the guidance scales compared."""

    counts: dict[str, int]
    values: dict[str, list[float]]
    n: int
    scale: float
    low_scale: float
    high_scale: float

    def glued(self) -> dict[str, float]:
        """Every count as a percentage and every per-seed value as its mean, under a name
        a glue role can hold (``"degraded, scale 1"`` -> ``"degraded_scale_1"``)."""
        out = {_slug(k): 100 * k_ / self.n for k, k_ in self.counts.items()}
        out |= {_slug(k): sum(v) / len(v) for k, v in self.values.items()}
        return out


def _slug(name: str) -> str:
    return re.sub(r"\W+", "_", name).strip("_")


def negative_prompt_claims(*args, **kwargs) -> list[rule.Verdict]:
    """:func:`measure`, then :func:`decide`: every claim of :data:`CLAIMS` as a row."""
    return decide(measure(*args, **kwargs))


@torch.no_grad()
def measure(
    pipe,
    evaluator,
    thresholds,
    seeds: Sequence[int],
    per_digit: int,
    quality_negative: str,
    real: torch.Tensor,
    low_scale: float = 2.0,
    high_scale: float = 12.0,
    progress: bool = True,
    **call,
) -> Fresh:
    """The counts and values every claim of :data:`CLAIMS` rests on, measured on
    ``seeds`` with ``per_digit`` pictures per digit and comparison per seed. ``evaluator``
    is the chapter's :class:`~noise2image.diffusion.evaluate.Evaluator` (with its defect
    detector); ``real`` real digits other than the evaluator's test digits (validation
    digits): as many of them as one seed's pictures give the FID baseline, at the same n
    (FID depends on n); ``call`` goes to the pipeline (``guidance_scale``,
    ``num_inference_steps``). ``low_scale`` is the guidance scale of the "quality negative at
    a low scale" row, ``high_scale`` that of the ``guidance_rescale`` row (the chapter
    passes its sweep's second-smallest and largest scales)."""
    from ..metrics import clarity_score, fid
    from ..progress import progress_bar
    from .defects import detected_defects

    if not isinstance(seeds, Sequence) or isinstance(seeds, str) or not seeds:
        raise ParameterError(f"seeds={seeds!r} must be a non-empty list of whole numbers")
    seeds = [check_int(f"seeds[{i}]", s, minimum=0) for i, s in enumerate(seeds)]
    check_int("per_digit", per_digit, minimum=1)
    scale = call.get("guidance_scale", 1.0)
    for name, value in (("low_scale", low_scale), ("high_scale", high_scale),
                        ("guidance_scale", scale)):  # fmt: skip
        if check_float(name, value, minimum=0.0) <= 1:
            raise ParameterError(
                f"{name}={value} must be above 1: the claims compare negative prompts, which "
                "act only through guidance"
            )
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

    def bold(images):
        return round(style_match(images, ["bold"], thresholds) * len(images))

    def spread(images):  # diversity relative to real digits, as the evaluator reports it
        return diversity(images, asked, evaluator.net) / evaluator.real_diversity

    def draw(prompt_list, seed, **changes):
        return pictures_for(pipe, prompt_list, seed, **{**call, **changes})

    a_seven = ["a seven"] * len(prompts)

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
        counts["degraded, interval"] += degraded(half)
        # the comparisons the sections' sentences rest on
        unguided = draw(prompts, seed, guidance_scale=1.0)
        counts["degraded, scale 1"] += degraded(unguided)
        values["diversity, scale 1"].append(spread(unguided))
        values["diversity"].append(spread(base))
        counts["degraded, low scale"] += degraded(draw(prompts, seed, guidance_scale=low_scale))
        counts["degraded, low scale, quality negative"] += degraded(
            draw(prompts, seed, guidance_scale=low_scale, negative_prompt=quality_negative)
        )
        counts["degraded, blurry"] += degraded(draw(prompts, seed, negative_prompt="blurry"))
        plain_seven = draw(a_seven, seed)
        values["thickness, a seven"].append(thickness(plain_seven).mean().item())
        counts["bold, a seven"] += bold(plain_seven)
        counts["sevens, a seven"] += sevens(plain_seven)
        values["thickness, negative bold"].append(
            thickness(draw(a_seven, seed, negative_prompt="bold")).mean().item()
        )
        counts["sevens, a seven - seven"] += sevens(draw(a_seven, seed, negative_prompt="seven"))
        bold_seven = ["a bold seven"] * len(prompts)
        counts["bold, a bold seven"] += bold(draw(bold_seven, seed))
        counts["bold, a bold seven - bold"] += bold(draw(bold_seven, seed, negative_prompt="bold"))
        for rescale in (0.0, 0.7):
            steep = draw(prompts, seed, guidance_scale=high_scale, guidance_rescale=rescale)
            values[f"fid, rescale {rescale}"].append(
                fid(evaluator.real, steep, evaluator.net) / real_fid
            )
        bar.update()
    bar.close()
    return Fresh(dict(counts), dict(values), len(prompts) * len(seeds), scale, low_scale,
                 high_scale)  # fmt: skip


def decide(fresh: Fresh) -> list[rule.Verdict]:
    """Every claim of :data:`CLAIMS`, in its order, decided by the course's rule on what
    :func:`measure` counted."""
    counts, values, n = fresh.counts, fresh.values, fresh.n
    scale, low_scale, high_scale = fresh.scale, fresh.low_scale, fresh.high_scale
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
        rule.share_erased(CLAIMS["concept"], counts["sevens"], n,
                         counts["sevens, concept negative"], n, 0.25),
        rule.seeds_bar(CLAIMS["interval fid"], values["interval fid"], 2.0, "below"),
        rule.share_erased(CLAIMS["interval concept"], counts["sevens"], n,
                         counts["sevens, interval"], n, 0.25),
        rule.share_ratio(CLAIMS["guidance defects"].format(scale=scale),
                         counts["degraded, scale 1"], n, counts["degraded"], n, 0.5),
        rule.seeds_difference(CLAIMS["guidance diversity"].format(scale=scale),
                              values["diversity, scale 1"], values["diversity"], "below"),
        rule.share_ratio(CLAIMS["low scale quality"].format(low=low_scale),
                         counts["degraded, low scale"], n,
                         counts["degraded, low scale, quality negative"], n, 0.5),
        rule.share_gain(CLAIMS["blurry"], counts["degraded"], n, counts["degraded, blurry"], n,
                        0.0),
        rule.seeds_difference(CLAIMS["bold thinner"], values["thickness, a seven"],
                              values["thickness, negative bold"], "below"),
        rule.share_gain(CLAIMS["self negative"], counts["sevens, a seven"], n,
                        counts["sevens, a seven - seven"], n, 0.0),
        rule.share_gain(CLAIMS["bold negated"], counts["bold, a bold seven"], n,
                        counts["bold, a bold seven - bold"], n, 0.0),
        rule.share_gain(CLAIMS["bold partly"], counts["bold, a bold seven - bold"], n,
                        counts["bold, a seven"], n, 0.0),
        rule.seeds_difference(CLAIMS["rescale"].format(high=high_scale),
                              values["fid, rescale 0.0"], values["fid, rescale 0.7"], "below"),
        rule.share_gain(CLAIMS["interval grip"], counts["sevens, interval"], n,
                        counts["sevens, concept negative"], n, 0.0),
        rule.share_gain(CLAIMS["interval defects"], counts["degraded, interval"], n,
                        counts["degraded"], n, 0.0),
    ]  # fmt: skip


def verdict_words(rows: Sequence[rule.Verdict]) -> dict[str, str]:
    """The words each section's sentence uses for its fresh-seed verdict, keyed as
    :data:`WORDS` (plus ``"bold cancel"``, read from the two rows on negating ``"bold"``),
    from the rows :func:`negative_prompt_claims` returned (in :data:`CLAIMS` order)."""
    if len(rows) != len(CLAIMS):
        raise ParameterError(
            f"rows must be the {len(CLAIMS)} rows negative_prompt_claims returns, not {len(rows)}"
        )
    verdict = {key: row.verdict for key, row in zip(CLAIMS, rows, strict=True)}
    order = (rule.HELD, rule.NOT_HELD, rule.NOT_SHOWN, rule.NOT_TESTABLE)
    words = {key: WORDS[key][order.index(verdict[key])] for key in WORDS}
    lowers, partly = verdict["bold negated"], verdict["bold partly"]
    if lowers == rule.HELD:
        words["bold cancel"] = {
            rule.HELD: "only partly cancels that part",
            rule.NOT_HELD: "cancels that part",
            rule.NOT_SHOWN: "cancels at least part of that part",
        }[partly]
    else:
        words["bold cancel"] = {
            rule.NOT_HELD: "does not cancel that part",
            rule.NOT_SHOWN: "is not shown to cancel that part",
        }[lowers]
    return words
