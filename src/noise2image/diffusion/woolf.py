"""Woolf's comparison (chapter 9, Part 1): the runs that decide what the "wrong" LoRA of
:mod:`noise2image.diffusion.adapter` does, and the claims they decide.

* :func:`woolf_runs` -- the base model, the placebo (a word the base model does not know),
  the learned word with the LoRA off (a textual-inversion negative embedding), the LoRA at
  full and at the chosen scale, two controls and a null distribution of random embeddings;
* :func:`comparison` -- every run on the same prompts and seeds, measured by one evaluator;
* :func:`choose_scale` -- the LoRA scale that sharpens most without losing the prompt;
* :func:`claims` -- Woolf's claims, each decided by the course's one rule
  (:mod:`noise2image.claims`).
"""

from __future__ import annotations

from .adapter import lora_scale
from .captions import DEFECTS

__all__ = [
    "comparison",
    "choose_scale",
    "woolf_runs",
    "BASE",
    "PLACEBO",
    "TOKEN_ONLY",
    "FULL",
    "CHOSEN",
    "LORA_EMPTY",
    "WORDS",
    "NULL",
    "GENERATING_NEGATIVE",
    "claims",
]


def comparison(runs: dict, prompts, asked, evaluator, seeds=(1, 2, 3), progress=True, **call):
    """Every run of ``runs`` (name -> ``(pipeline, negative_prompt, lora_scale or None)``)
    on ``prompts`` for every seed of ``seeds`` (the same seeds for every run), measured by
    ``evaluator(images, asked)``. Returns a ``pandas.DataFrame`` (one row per run and seed)
    and the first seed's pictures by run. Words a pipeline does not know (the placebo's
    ``"wrong"`` on the base model) are not warned about here."""
    import warnings
    from contextlib import nullcontext

    import pandas as pd

    from ..progress import progress_bar
    from .evaluate import pictures_for

    rows, pictures = [], {}
    bar = progress_bar(total=len(runs) * len(seeds), desc="runs x seeds", disable=not progress)
    for seed in seeds:
        for name, (pipe, negative, scale) in runs.items():
            switch = nullcontext() if scale is None else lora_scale(pipe, scale)
            with switch, warnings.catch_warnings():
                warnings.filterwarnings("ignore", "words the model does not know")
                images = pictures_for(pipe, prompts, seed, negative_prompt=negative, **call)
            if seed == seeds[0]:
                pictures[name] = images
            rows.append({"run": name, "seed": seed, **evaluator(images, asked)})
            bar.update(1)
    bar.close()
    return pd.DataFrame(rows), pictures


def choose_scale(sweep, tolerance: float = 0.02) -> float:
    """The LoRA scale above 0 with the highest clarity among those that keep the prompt (the
    share classified as asked at most ``tolerance`` below the base model's, scale 0 with no
    negative prompt) and draw no more degraded pictures than the base model (the detector's
    share, when ``sweep`` has it). ``sweep`` is a table indexed by scale. 1.0 (as trained)
    when no scale qualifies."""
    if 0.0 not in sweep.index:
        raise ValueError("the sweep needs the scale-0 row (the base model) to compare with")
    base = sweep.loc[0.0]
    ok = (sweep.index > 0) & (
        sweep["classified as asked"] >= base["classified as asked"] - tolerance
    )
    if "degraded (detector)" in sweep:
        ok &= sweep["degraded (detector)"] <= base["degraded (detector)"]
    allowed = sweep[ok]
    return float(allowed["clarity"].idxmax()) if len(allowed) else 1.0


BASE = "base"
PLACEBO = 'placebo: base, negative "wrong"'
TOKEN_ONLY = 'token only (LoRA off), negative "wrong"'
FULL = 'LoRA 1.0, negative "wrong"'
CHOSEN = 'LoRA at the chosen scale, negative "wrong"'
LORA_EMPTY = "control: LoRA 1.0, empty negative"
WORDS = "control: base, the bad set's words as negative"
NULL = "null: a random embedding (LoRA off)"
"""The runs of the null distribution are named ``f"{NULL} {i}"``."""
GENERATING_NEGATIVE = ", ".join(DEFECTS)
"""The words that generated the bad set (every defect once), written as a plain negative."""


def woolf_runs(
    base_pipe,
    pipe,
    chosen_scale: float,
    token: str = "wrong",
    controls: bool = True,
    null_words=(),
) -> dict:
    """Woolf's comparison as :func:`comparison` runs: the base model; the placebo (the base
    model, negative ``token``, a word it does not know); the new word's embedding with the
    LoRA off (a textual-inversion negative embedding); the LoRA at full scale and at
    ``chosen_scale``, each with negative ``token``. With ``controls``, two runs that decide
    what the LoRA adds: the LoRA at full scale with an *empty* negative (what the adapter
    does without the word) and the base model with the bad set's own generating words as a
    plain negative (:data:`GENERATING_NEGATIVE`: can a written negative do the same?).
    ``null_words`` (from :func:`random_words`): one run per word, its random embedding as
    the negative with the LoRA off, the null distribution the learned word is judged by."""
    runs = {
        BASE: (base_pipe, "", None),
        PLACEBO: (base_pipe, token, None),
        TOKEN_ONLY: (pipe, token, 0.0),
        FULL: (pipe, token, 1.0),
        CHOSEN: (pipe, token, chosen_scale),
    }
    if controls:
        runs[LORA_EMPTY] = (pipe, "", 1.0)
        runs[WORDS] = (base_pipe, GENERATING_NEGATIVE, None)
    for i, word in enumerate(null_words, start=1):
        runs[f"{NULL} {i}"] = (pipe, word, 0.0)
    return runs


def claims(summaries: dict, chosen_scale: float):
    """Woolf's claims, each decided by the course's one rule (:mod:`noise2image.claims`):
    ``summaries`` maps a sampler setting to :func:`~noise2image.diffusion.optimiser.summary`
    of its :func:`comparison`. A change holds when every seed's change is on the claimed
    side and the mean change is larger than the seed-to-seed spread. The claims of a gain
    (sharper, fewer defects, closer to real digits by FID, and, where the control runs are
    there, better than each control and than the best of the random embeddings on each
    seed) are counted apart from the guards ("not worse",
    the placebo: :func:`noise2image.claims.guard`)."""
    from .. import claims as rule
    from .comparison import per_seed

    rows = []
    for setting, summary in summaries.items():

        def values(run, column, summary=summary):
            return per_seed(summary, run, column)

        base_clarity = values(BASE, "clarity")
        for label, run in (("full scale", FULL), (f"scale {chosen_scale:g}", CHOSEN)):
            where = f"({setting}, {label})"
            run_asked = values(run, "classified as asked")
            base_asked = values(BASE, "classified as asked")
            asked = [r - b for r, b in zip(run_asked, base_asked, strict=True)]
            rows += [
                rule.seeds_difference(f"sharper: clarity up by more than the spread {where}",
                                      base_clarity, values(run, "clarity"), "above"),
                rule.seeds_difference(
                    f"fewer degraded pictures, by more than the spread {where}",
                    values(BASE, "degraded (detector)"), values(run, "degraded (detector)"),
                    "below",
                ),
                rule.seeds_difference(f"closer to real digits: FID down by more than the "
                                      f"spread {where}", values(BASE, "FID"),
                                      values(run, "FID"), "below"),
                rule.guard(rule.seeds_bar(
                    f"prompt adherence not worse by more than 2 points {where}",
                    asked, -0.02, "above",
                )),
            ]  # fmt: skip
        names = set(summary["table"][summary["by"]])
        controls = {
            LORA_EMPTY: f'the word matters: LoRA 1.0 sharper with "wrong" than with an empty '
                        f"negative ({setting})",
            WORDS: f"the LoRA beats its own generating words: LoRA 1.0 sharper than the base "
                   f"with the bad set's words as negative ({setting})",
        }  # fmt: skip
        for control, claim in controls.items():
            if control in names:
                rows.append(rule.seeds_difference(
                    claim, values(control, "clarity"), values(FULL, "clarity"), "above"
                ))  # fmt: skip
        nulls = sorted(n for n in names if n.startswith(NULL))
        if nulls:  # on each seed, the best of the random embeddings
            per_null = [values(n, "clarity") for n in nulls]
            best = [max(seed) for seed in zip(*per_null, strict=True)]
            k = len(nulls)
            rows += [
                rule.seeds_difference(
                    f"the learned word beats chance: token only (LoRA off) sharper than the "
                    f"best of {k} random embeddings ({setting})",
                    best, values(TOKEN_ONLY, "clarity"), "above",
                ),
                rule.seeds_difference(
                    f"the LoRA beats chance: scale {chosen_scale:g} sharper than the best of "
                    f"{k} random embeddings ({setting})",
                    best, values(CHOSEN, "clarity"), "above",
                ),
            ]  # fmt: skip
        spread = max(base_clarity) - min(base_clarity)
        placebo = [p - b for p, b in zip(values(PLACEBO, "clarity"), base_clarity, strict=True)]
        rows.append(rule.guard(rule.seeds_within(
            f"placebo does nothing: clarity change within the spread ({setting})",
            placebo, -spread, spread,
        )))  # fmt: skip
    rows.append(rule.by_construction(
        '"a kind of reinforcement learning from user feedback"', False,
        "no reward and no preferences: a regression on the model's own pictures",
    ))  # fmt: skip
    return rule.table(rows)
