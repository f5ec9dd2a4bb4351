"""Chapter 9's comparison: every way of choosing a negative (none, hand-written, community,
SFT, RL, ReNeg), judged on the held-out prompts over several seeds
(:func:`compare_methods`), summarised per method (:func:`summary`), and the chapter's
verdicts from that summary (:func:`claims`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .prompts import CoursePrompt
from .reward import PARTS, Reward

__all__ = [
    "Comparison",
    "compare_methods",
    "summary",
    "per_seed",
    "claims",
    "inception_cap",
]


@dataclass
class Comparison:
    """:func:`compare_methods`' results: ``table`` (one row per method and seed), ``pairs``
    (one row per method, seed and prompt) and the first seed's ``pictures`` by method."""

    table: object
    pairs: object
    pictures: dict


def compare_methods(
    reward: Reward,
    prompts: Sequence[CoursePrompt],
    methods: dict,
    seeds: Sequence[int] = (1, 2, 3),
    progress: bool = True,
    judge=None,
) -> Comparison:
    """Every method on ``prompts``, on fresh seeds (not the reward's): ``methods`` maps a name
    to one negative prompt per prompt (a list of strings) or to a negative embedding
    ``(1, T, D)``. Per (method, seed): IS, clarity, FID (all its pictures against the real
    test digits) and the mean reward and parts of its pairs; with ``judge`` (a classifier
    the reward never used, :func:`~noise2image.diffusion.judge.train_judge`), also the share
    of its pictures that judge reads as the digit asked for (``"judge: as asked"``) and the
    same share by the course classifier the reward uses (``"course: as asked"``)."""
    import pandas as pd

    from ..metrics import clarity_score, fid, inception_score
    from ..progress import progress_bar

    rows, pair_rows, pictures = [], [], {}
    bar = progress_bar(
        total=len(methods) * len(seeds), desc="methods x seeds", disable=not progress
    )
    n = reward.pictures
    for seed in seeds:
        noise = reward.starting_noise(10_000 + seed)
        for name, negatives in methods.items():
            texts = [p.text for p in prompts]
            if isinstance(negatives, torch.Tensor):
                images = reward.render(texts, embeds=negatives, noise=noise)
            else:
                images = reward.render(texts, list(negatives), noise=noise)
            if seed == seeds[0]:
                pictures[name] = images
            pairs = []
            for i, p in enumerate(prompts):
                raw = reward.parts(images[i * n : (i + 1) * n], p)
                pairs.append({**raw, **reward.normalised(raw)})
                pair_rows.append(
                    {
                        "method": name,
                        "seed": seed,
                        "prompt": p.text,
                        "style words": " ".join(p.words),
                        **pairs[-1],
                    }
                )
            judged = {}
            if judge is not None:
                from .evaluate import classified_as_asked
                from .judge import judged_as_asked

                asked = torch.tensor([p.digit for p in prompts]).repeat_interleave(n)
                judged = {
                    "judge: as asked": judged_as_asked(judge, images, asked),
                    "course: as asked": classified_as_asked(images, asked, reward.net),
                }
            rows.append(
                {
                    "method": name,
                    "seed": seed,
                    **judged,
                    "IS": inception_score(images, reward.net),
                    "clarity": clarity_score(images, reward.clarity_reference),
                    "FID": fid(reward.real, images, reward.net),
                    **{
                        part: sum(p[part] for p in pairs) / len(pairs)
                        for part in (*PARTS, "reward")
                    },
                }
            )
            bar.update(1)
    bar.close()
    return Comparison(pd.DataFrame(rows), pd.DataFrame(pair_rows), pictures)


def summary(table, by: str = "method", baseline: str | None = None):
    """Mean and spread (max - min) over seeds of every column of ``table``, by ``by``; with
    ``baseline``, also each mean's % change against that row (the paper's form). The table
    itself is kept under ``"table"`` (with ``"by"``), for :func:`per_seed`."""
    numbers = table.drop(columns=[c for c in ("seed",) if c in table]).groupby(by, sort=False)
    mean, spread = numbers.mean(), numbers.max() - numbers.min()
    out = {"mean": mean, "spread": spread, "table": table, "by": by}
    if baseline is not None:
        out["change"] = 100 * (mean - mean.loc[baseline]) / mean.loc[baseline].abs()
    return out


def per_seed(result_summary: dict, name: str, column: str) -> list[float]:
    """The values of ``column`` for ``name`` (a method or run), one per seed, in seed order:
    what the claims rule (:mod:`noise2image.claims`) decides on."""
    table, by = result_summary["table"], result_summary["by"]
    rows = table[table[by] == name].sort_values("seed")
    if rows.empty:
        raise KeyError(f"{name!r} is not among the {by}s: {list(table[by].unique())}")
    return [float(v) for v in rows[column]]


def claims(result_summary: dict, style_gain=None, is_cap=None, clarity_cap=None):
    """NegOpt's and ReNeg's claims, each decided by the course's one rule
    (:mod:`noise2image.claims`) on the seeds of :func:`summary` (with ``baseline="none"``)
    of :func:`compare_methods` on the held-out prompts: a method beats another when every
    seed's difference is on its side and the mean difference is larger than the
    seed-to-seed spread of either. Returns the claims table (:func:`noise2image.claims.table`).

    ``style_gain``: ReNeg's reward gain over no negative by the prompts' style words (the
    transfer claim reads the unseen word alone, ``"upright"``). ``is_cap``: the highest
    Inception Score pictures of the asked digits can reach with a 10-class judge (exp of the
    entropy of the asked digits' mix, :func:`inception_cap`); ``clarity_cap``: real digits'
    clarity. A paper's size that would need a value past its cap is "not testable here",
    with the numbers as the reason. "Not worse" rows are guards
    (:func:`noise2image.claims.guard`). Where the comparison ran with a judge the reward
    never used (``"judge: as asked"``), RL's and ReNeg's gains are also decided by it."""
    from .. import claims as rule

    def values(name, column):
        return per_seed(result_summary, name, column)

    def change(name, column):  # per seed, in % of no negative prompt, as the paper reports
        return [100 * (a - b) / abs(b) for a, b in
                zip(values(name, column), values("none", column), strict=True)]  # fmt: skip

    def beats(claim, a, b, column="reward"):
        return rule.seeds_difference(claim, values(b, column), values(a, column), "above")

    def sized(claim, column, size, cap, what):
        base = sum(values("none", column)) / len(values("none", column))
        needed = base * (1 + size / 100)
        if cap is not None and needed > cap:
            return rule.not_testable(claim, (
                f"+{size:g} % over no negative prompt's {base:.3g} would be {needed:.3g}, "
                f"above {what} {cap:.3g}"
            ))  # fmt: skip
        return rule.seeds_bar(claim, change(rl, column), size, "above")

    rl, aes, reneg = "SFT + RL", "SFT + RL (aesthetics only)", "ReNeg embedding"
    none_alignment = values("none", "alignment")
    lowered = [a - s for a, s in zip(values(aes, "alignment"), none_alignment, strict=True)]
    none_spread = max(none_alignment) - min(none_alignment)
    rows = [
        sized("IS +24.8 % over no negative prompt (SFT + RL)", "IS", 24.8, is_cap,
              "the cap of the asked digits' mix, exp(H) ="),
        sized("aesthetics (clarity) +18.6 % over no negative prompt (SFT + RL)", "clarity",
              18.6, clarity_cap, "real digits' clarity"),
        beats("SFT + RL beats the community's own negatives (reward)", rl, "ground truth"),
        beats("SFT + RL beats no negative prompt (reward)", rl, "none"),
        beats("SFT + RL beats SFT alone (reward)", rl, "SFT"),
        beats("SFT alone beats no negative prompt (reward): SFT gives the base", "SFT", "none"),
        beats("RL on aesthetics alone raises clarity over SFT", aes, "SFT", "clarity"),
        # not lower: every seed's alignment above no negative prompt's less its spread
        rule.guard(rule.seeds_bar(
            "... without lowering alignment below no negative prompt's", lowered, -none_spread
        )),
        beats("ReNeg beats no negative prompt (reward)", reneg, "none"),
        beats("ReNeg beats the community's own negatives (reward)", reneg, "ground truth"),
    ]  # fmt: skip
    if "judge: as asked" in result_summary["table"]:
        for claim, method in (("SFT + RL", rl), ("ReNeg", reneg)):
            rows.append(beats(
                f"{claim}: more pictures read as asked than with no negative prompt, by a "
                f"judge the optimisers never saw", method, "none", "judge: as asked",
            ))  # fmt: skip
    if style_gain is not None and "upright" in style_gain:
        rows.append(rule.seeds_bar(
            "ReNeg transfers to the unseen word 'upright', alone (reward gain above 0)",
            [style_gain["upright"]], 0.0,
        ))  # fmt: skip
    return rule.table(rows)


def inception_cap(digits) -> float:
    """The highest Inception Score a 10-class judge can give pictures of ``digits`` (the
    digit asked for, one per picture), reached when each is read as asked with certainty:
    ``exp(H)`` of the digits' mix. A negative prompt does not change which digits are
    asked for, so it cannot raise IS past this."""
    import math
    from collections import Counter

    counts = Counter(int(d) for d in digits)
    total = sum(counts.values())
    if not total:
        raise ValueError("digits must hold at least one asked digit")
    return math.exp(-sum(c / total * math.log(c / total) for c in counts.values()))
