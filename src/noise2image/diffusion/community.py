"""NegOpt's data set at the course's scale: community (prompt, negative prompt) pairs with
"likes".

The negatives are written as a community writes them (:func:`community_negatives`: defect
words, style words, digit words and the web's irrelevant words), every pair scored by
:class:`~noise2image.diffusion.reward.Reward` on fixed seeds, and the likes drawn as a
noisy function of that score (:func:`simulated_likes`). :func:`top_liked` is what SFT
learns from, :func:`ground_truth` the data set's best negative per prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .captions import DEFECTS, DIGIT_WORDS, STYLE_WORDS
from .prompts import IRRELEVANT, CoursePrompt
from .reward import Reward

__all__ = [
    "community_negatives",
    "build_dataset",
    "simulated_likes",
    "term_kinds",
    "top_liked",
    "ground_truth",
]


def community_negatives(prompt: CoursePrompt, n: int, rng: torch.Generator) -> list[str]:
    """``n`` different negative prompts for ``prompt`` as a community writes them: one to four
    terms, each a quality word (helpful), a web term the model never read (irrelevant), a
    style word (the opposite style helps, the prompt's own hurts), another digit (a concept),
    or the prompt's own digit (harmful)."""
    opposite = {"bold": "thin", "thin": "bold", "slanted": "upright", "upright": "slanted"}
    pools = [
        (0.35, list(DEFECTS)),
        (0.25, list(IRRELEVANT)),
        (0.2, list(STYLE_WORDS)),
        (0.1, [w for d, w in enumerate(DIGIT_WORDS) if d != prompt.digit]),
        (0.1, [DIGIT_WORDS[prompt.digit]] if prompt.digit is not None else ["digit"]),
    ]
    weights = torch.tensor([w for w, _ in pools])
    out, tries = [], 0
    while len(out) < n and tries < 50 * n:
        tries += 1
        k = int(torch.randint(1, 5, (1,), generator=rng))
        terms = []
        for _ in range(k):
            pool = pools[int(torch.multinomial(weights, 1, generator=rng))][1]
            term = pool[int(torch.randint(len(pool), (1,), generator=rng))]
            if term not in terms:
                terms.append(term)
        if prompt.words and float(torch.rand(1, generator=rng)) < 0.15:
            terms.append(opposite[prompt.words[0]])  # someone who knows what helps
        text = ", ".join(dict.fromkeys(terms))
        if text not in out:
            out.append(text)
    return out


def build_dataset(
    reward: Reward,
    train_prompts: Sequence[CoursePrompt],
    test_prompts: Sequence[CoursePrompt],
    per_prompt: int = 12,
    seed: int = 0,
    progress: bool = True,
):
    """The negative-prompt data set: ``per_prompt`` community negatives for every prompt of
    ``train_prompts`` (split ``"train"``) and ``test_prompts`` (``"test"``), each scored by
    ``reward`` (its FID scale calibrated on the training pairs), with users' likes: a
    Poisson count whose rate grows with the reward, times a log-normal taste of the users.
    Returns a ``pandas.DataFrame``, one row per pair."""
    import pandas as pd

    from ..progress import progress_bar

    rng = torch.Generator().manual_seed(seed)
    rows = []
    for split, prompts in (("train", train_prompts), ("test", test_prompts)):
        for prompt in prompts:
            for negative in community_negatives(prompt, per_prompt, rng):
                rows.append({"split": split, "prompt": prompt, "negative": negative})
    bar = progress_bar(total=len(rows), desc="scoring pairs", disable=not progress)
    chunk = max(1, reward.batch // reward.pictures)
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        reward.score([r["prompt"] for r in part], [r["negative"] for r in part])
        bar.update(len(part))
    bar.close()
    reward.calibrate(
        [
            reward.cache[(r["prompt"].text, r["negative"])]["FID"]
            for r in rows
            if r["split"] == "train"
        ]
    )
    scored = reward.score([r["prompt"] for r in rows], [r["negative"] for r in rows])
    table = pd.DataFrame(
        [
            {
                "split": r["split"],
                "prompt": r["prompt"].text,
                "digit": r["prompt"].digit,
                "style words": " ".join(r["prompt"].words),
                "negative": r["negative"],
                **s,
            }
            for r, s in zip(rows, scored, strict=True)
        ]
    )
    table["likes"] = simulated_likes(table["reward"].to_numpy(), rng)
    return table


def simulated_likes(rewards, rng: torch.Generator):
    """Users' likes of pairs with these ``rewards``: a Poisson count whose rate grows with
    the standardised reward ``z``, ``20 exp(1.5 z + taste)``, the users' taste ~ N(0, 0.5²).

    Drawn by inverting the Poisson CDF at one uniform number per pair, so a pair's likes
    move only if its own rate moves across a step of the CDF: a last-bit difference of one
    reward (another CPU) cannot reshuffle every later pair's likes, as a rejection sampler
    that consumes a varying count of random numbers (``torch.poisson``) would."""
    import numpy as np
    from scipy.stats import poisson

    rewards = np.asarray(rewards, dtype=np.float64)
    z = (rewards - rewards.mean()) / rewards.std(ddof=1)
    taste = torch.randn(len(rewards), generator=rng, dtype=torch.float64).numpy() * 0.5
    uniform = torch.rand(len(rewards), generator=rng, dtype=torch.float64).numpy()
    rate = 20 * np.exp(1.5 * z + taste)
    return poisson.ppf(uniform, rate).astype(np.int64)


def term_kinds(negative: str, prompt: CoursePrompt) -> list[str]:
    """What each term of a community ``negative`` is for ``prompt``: ``"quality word"``,
    ``"web term"`` (unknown to the model), ``"opposite style"``, ``"own style"``, ``"other
    style"``, ``"other digit"`` or ``"own digit"``."""
    opposite = {"bold": "thin", "thin": "bold", "slanted": "upright", "upright": "slanted"}
    kinds = []
    for term in (t.strip() for t in negative.split(",") if t.strip()):
        if term in DEFECTS:
            kinds.append("quality word")
        elif term in IRRELEVANT:
            kinds.append("web term")
        elif term in prompt.words:
            kinds.append("own style")
        elif term in STYLE_WORDS:
            opposed = any(opposite[w] == term for w in prompt.words)
            kinds.append("opposite style" if opposed else "other style")
        elif term in DIGIT_WORDS:
            own = prompt.digit is not None and term == DIGIT_WORDS[prompt.digit]
            kinds.append("own digit" if own else "other digit")
        else:
            kinds.append("other")
    return kinds


def top_liked(table, k: int = 3, split: str = "train") -> list[tuple[str, str]]:
    """The ``k`` most-liked (prompt, negative) pairs of every prompt of ``split``: what SFT
    learns from (the community's favourites)."""
    part = table[table["split"] == split]
    rank = part.groupby("prompt")["likes"].rank(ascending=False, method="first")
    best = part[rank <= k]
    return list(zip(best["prompt"], best["negative"], strict=True))


def ground_truth(table, pick: str = "median") -> dict[str, str]:
    """Every prompt's own community negative, as NegOpt's test set gives one per prompt:
    ``pick="median"`` (the default) the negative of median likes (the lower of the two
    middle ones for an even count), a typical human-written negative; ``"best"`` the
    most-liked one, which knows the reward the likes were drawn from (an oracle)."""
    from ..profiles import check_choice

    check_choice("pick", pick, ("median", "best"))
    if pick == "best":
        chosen = table.loc[table.groupby("prompt")["likes"].idxmax()]
    else:
        ranked = table.sort_values(["prompt", "likes", "negative"], kind="stable")
        position = ranked.groupby("prompt").cumcount()
        middle = (ranked.groupby("prompt")["likes"].transform("size") - 1) // 2
        chosen = ranked[position == middle]
    return dict(zip(chosen["prompt"], chosen["negative"], strict=True))
