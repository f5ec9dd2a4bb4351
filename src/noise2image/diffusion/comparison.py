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
    "claims",
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
) -> Comparison:
    """Every method on ``prompts``, on fresh seeds (not the reward's): ``methods`` maps a name
    to one negative prompt per prompt (a list of strings) or to a negative embedding
    ``(1, T, D)``. Per (method, seed): IS, clarity, FID (all its pictures against the real
    test digits) and the mean reward and parts of its pairs."""
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
            rows.append(
                {
                    "method": name,
                    "seed": seed,
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
    ``baseline``, also each mean's % change against that row (the paper's form)."""
    numbers = table.drop(columns=[c for c in ("seed",) if c in table]).groupby(by, sort=False)
    mean, spread = numbers.mean(), numbers.max() - numbers.min()
    out = {"mean": mean, "spread": spread}
    if baseline is not None:
        out["change"] = 100 * (mean - mean.loc[baseline]) / mean.loc[baseline].abs()
    return out


def claims(result_summary: dict, style_gain=None):
    """NegOpt's and ReNeg's claims, each decided by a number of :func:`summary` (with
    ``baseline="none"``) of :func:`compare_methods` on the held-out prompts; a difference
    counts when it is larger than the larger spread of the two methods compared.
    ``style_gain``: ReNeg's reward gain over no negative by the prompts' style words."""
    import pandas as pd

    mean, spread, change = (
        result_summary["mean"],
        result_summary["spread"],
        result_summary["change"],
    )

    def diff(a, b, column="reward"):
        return mean.loc[a, column] - mean.loc[b, column]

    def beats(a, b, column="reward"):
        return diff(a, b, column) > max(spread.loc[a, column], spread.loc[b, column])

    rl, aes, reneg = "SFT + RL", "SFT + RL (aesthetics only)", "ReNeg embedding"
    rows = [
        ("IS +24.8 % over no negative prompt (SFT + RL)",
         f"{change.loc[rl, 'IS']:+.1f} %", change.loc[rl, "IS"] >= 24.8),
        ("aesthetics (clarity) +18.6 % over no negative prompt (SFT + RL)",
         f"{change.loc[rl, 'clarity']:+.1f} %", change.loc[rl, "clarity"] >= 18.6),
        ("SFT + RL beats the ground-truth negatives (reward)",
         f"{diff(rl, 'ground truth'):+.3f}", beats(rl, "ground truth")),
        ("SFT + RL beats no negative prompt (reward)",
         f"{diff(rl, 'none'):+.3f}", beats(rl, "none")),
        ("SFT + RL beats SFT alone (reward)", f"{diff(rl, 'SFT'):+.3f}", beats(rl, "SFT")),
        ("RL on aesthetics alone raises clarity over SFT",
         f"{diff(aes, 'SFT', 'clarity'):+.1f}", beats(aes, "SFT", "clarity")),
        ("... without lowering alignment below SFT's",
         f"{diff(aes, 'SFT', 'alignment'):+.3f}", not beats("SFT", aes, "alignment")),
        ("ReNeg beats no negative prompt (reward)",
         f"{diff(reneg, 'none'):+.3f}", beats(reneg, "none")),
        ("ReNeg beats the ground-truth negatives (reward)",
         f"{diff(reneg, 'ground truth'):+.3f}", beats(reneg, "ground truth")),
    ]  # fmt: skip
    if style_gain is not None and "upright" in style_gain:
        gain = style_gain["upright"]
        rows.append(("ReNeg transfers to the unseen word 'upright' (reward gain above 0)",
                     f"{gain:+.3f}", gain > 0))  # fmt: skip
    table = pd.DataFrame(rows, columns=["claim", "measured", "verdict"]).set_index("claim")
    table["verdict"] = table["verdict"].map({True: "held", False: "not held"})
    return table
