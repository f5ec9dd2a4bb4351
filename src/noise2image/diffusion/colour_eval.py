"""Chapter 10's measurements of the colour model, on prompts and seeds the chapter does not
choose: training names, paraphrases, held-out combinations, a negative prompt in colour.
Each draws with ``guidance_scale`` and ``steps`` (default 4 and 25, the chapter's), passed
on to :func:`draw`.

Every share comes with its count, its n and a Wilson interval
(:func:`noise2image.claims.wilson`), so that the chapter's verdicts use the course's one
claims rule.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from .. import claims, colours
from ..profiles import check_int
from . import emoji_captions as ec
from . import emoji_measures as em

__all__ = [
    "NAME_SEED",
    "prompt_of",
    "draw",
    "classify",
    "share",
    "tone_steps",
    "training_names",
    "paraphrases",
    "held_out_pairs",
    "negative_colour",
    "negative_concept",
    "subgroup_judge",
    "nearest_name_judge",
    "most_drawn",
    "NO_TONE",
    "tone_references",
    "tones_of",
    "tone_shift",
    "encoder_retrieval",
]

NAME_SEED = 2026
"""The seed that draws the training names to ask for (fixed here, not by the chapter)."""


def prompt_of(entry: ec.Emoji) -> str:
    """An emoji's prompt: its name, and its tone if it has one."""
    return entry.name + (f", {entry.tone}" if entry.tone else "")


@torch.no_grad()
def draw(
    pipe,
    prompts: list[str],
    seed: int,
    guidance_scale: float = 4.0,
    steps: int = 25,
    negative_prompt: str | None = None,
    batch: int = 100,
) -> np.ndarray:
    """uint8 pictures ``(N, 64, 64, 3)`` for ``prompts``; the noise of picture ``i`` comes
    from ``seed`` and ``i`` alone (so a subset draws the same pictures)."""
    out = []
    for start in range(0, len(prompts), batch):
        chunk = prompts[start : start + batch]
        generators = [
            torch.Generator().manual_seed(seed * 100_003 + start + i) for i in range(len(chunk))
        ]
        images = pipe(
            chunk,
            negative_prompt=None if negative_prompt is None else [negative_prompt] * len(chunk),
            guidance_scale=guidance_scale,
            num_inference_steps=steps,
            generator=generators,
            output_type="pt",
        ).images
        out.append((images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8))
    return np.concatenate(out)


@torch.no_grad()
def classify(classifier, classes: list[str], pictures: np.ndarray) -> list[str]:
    """The course classifier's subgroup for each uint8 picture."""
    x = torch.from_numpy(pictures).permute(0, 3, 1, 2).float().div(255)
    device = next(classifier.parameters()).device  # the chapter's device, CPU or GPU
    guess = torch.cat([classifier(b.to(device)).argmax(1).cpu() for b in x.split(256)])
    return [classes[i] for i in guess.tolist()]


def share(k: int, n: int) -> dict:
    """A count with its share and 95 % Wilson interval."""
    low, high = claims.wilson(int(k), int(n))
    return {
        "k": int(k),
        "n": int(n),
        "share": k / n if n else float("nan"),
        "low": low,
        "high": high,
    }


def tone_steps(asked: ec.Emoji, other: ec.Emoji) -> int | None:
    """How many of Unicode's tone steps (light, medium-light, medium, medium-dark, dark) lie
    between two emoji's skin tones; ``None`` when either has no tone or a mix of tones."""
    order = list(ec.TONES.values())
    if asked.tone in order and other.tone in order:
        return abs(order.index(asked.tone) - order.index(other.tone))
    return None


def training_names(
    pipe,
    classifier,
    classes,
    n: int = 200,
    seed: int = 1,
    *,
    guidance_scale: float = 4.0,
    steps: int = 25,
) -> dict:
    """``n`` training emoji (drawn with :data:`NAME_SEED`) asked for by name: the share the
    classifier reads as the asked subgroup (and, as its ceiling, the share of the same
    emoji's training pictures it reads so), the share whose nearest training picture is the
    asked emoji (and the asked emoji in any skin tone, or in a tone one step from the asked
    one), and the share of near-copies (Carlini et al.'s ratio)."""
    check_int("n", n, minimum=1, maximum=len(ec.training_set()))
    train = ec.training_set()
    pick = np.random.default_rng(NAME_SEED).choice(len(train), n, replace=False)
    asked = [train.entries[i] for i in pick]
    pictures = draw(pipe, [prompt_of(e) for e in asked], seed, guidance_scale, steps)
    subgroups = classify(classifier, classes, pictures)
    real = classify(classifier, classes, train.images[pick])
    near = em.nearest_training(pictures, train.images)
    nearest = [train.entries[j] for j in near["nearest"]]
    return {
        "pictures": pictures,
        "asked": asked,
        "classified as asked": share(
            sum(s == e.subgroup for s, e in zip(subgroups, asked, strict=True)), n
        ),
        # the classifier's own ceiling: the same emoji's training pictures, read by it
        "real pictures classified as asked": share(
            sum(s == e.subgroup for s, e in zip(real, asked, strict=True)), n
        ),
        "nearest is asked": share(
            sum(m.key == e.key for m, e in zip(nearest, asked, strict=True)), n
        ),
        # the asked emoji in any skin tone: tells the tone apart from the shape
        "nearest is asked, any tone": share(
            sum(m.name == e.name for m, e in zip(nearest, asked, strict=True)), n
        ),
        # the asked emoji a tone step off: "medium-dark" drawn as "dark", say
        "nearest is asked, one tone off": share(
            sum(
                m.name == e.name and tone_steps(e, m) == 1
                for m, e in zip(nearest, asked, strict=True)
            ),
            n,
        ),
        "near copies": share(int(near["near copy"].sum()), n),
        "nearest": near["nearest"],
    }


def paraphrases(
    pipe,
    classifier,
    classes,
    per_prompt: int = 4,
    seed: int = 1,
    *,
    guidance_scale: float = 4.0,
    steps: int = 25,
) -> dict:
    """Every :data:`~noise2image.diffusion.emoji_captions.PARAPHRASES` prompt, ``per_prompt``
    pictures each: the share the classifier reads as the meant emoji's subgroup, and per
    paraphrase (``"by prompt"``) how many of its pictures were read so and the subgroup read
    most often (with its count)."""
    check_int("per_prompt", per_prompt, minimum=1)
    full = ec.load()
    prompts = [p for p, _ in ec.PARAPHRASES for _ in range(per_prompt)]
    meant = [
        full.entries[full.index(name)].subgroup
        for _, name in ec.PARAPHRASES
        for _ in range(per_prompt)
    ]
    pictures = draw(pipe, prompts, seed, guidance_scale, steps)
    got = classify(classifier, classes, pictures)
    hits = [g == m for g, m in zip(got, meant, strict=True)]
    by_prompt = []
    for i, (prompt, name) in enumerate(ec.PARAPHRASES):
        mine = slice(i * per_prompt, (i + 1) * per_prompt)
        read = Counter(got[mine]).most_common(1)[0]
        by_prompt.append({
            "paraphrase": prompt,
            "meant": name,
            "meant subgroup": meant[mine.start],
            "as meant": sum(hits[mine]),
            "read most as": f"{read[0]} ({read[1]})",
        })  # fmt: skip
    return {
        "pictures": pictures,
        "prompts": prompts,
        "subgroups": got,
        "as meant": share(sum(hits), len(hits)),
        "by prompt": by_prompt,
    }


NO_TONE = "no tone (yellow)"
"""The tone of an emoji drawn without a skin-tone modifier: OpenMoji's default yellow."""


def tone_references(train: ec.EmojiSet | None = None) -> dict[str, np.ndarray]:
    """The mean ink colour (CIELAB) of the training hands (subgroups ``hand-*``) in each
    skin tone, and of those without one (:data:`NO_TONE`)."""
    train = train or ec.training_set()
    hands = [i for i, e in enumerate(train.entries) if e.subgroup.startswith("hand")]
    refs = {}
    for tone in (NO_TONE, *ec.TONES.values()):
        rows = [i for i in hands if (train.entries[i].tone or NO_TONE) == tone]
        refs[tone] = np.mean([_ink_lab(train.images[i]) for i in rows], axis=0)
    return refs


def tones_of(pictures, refs: dict[str, np.ndarray]) -> list[str]:
    """The tone whose reference ink colour is nearest (CIELAB distance) to each picture's."""
    names = list(refs)
    return [
        names[int(np.argmin([np.linalg.norm(_ink_lab(p) - refs[t]) for t in names]))]
        for p in np.asarray(pictures)
    ]


def tone_shift(
    pipe,
    prompt: str,
    negative: str,
    n: int = 32,
    seed: int = 1,
    *,
    guidance_scale: float = 4.0,
    steps: int = 25,
) -> dict:
    """The tones read on ``n`` pictures of ``prompt`` without and with ``negative`` as the
    negative prompt: ``{"without": {tone: count}, "with": {tone: count}, "pictures": ...}``,
    and the mean ink lightness ``L*`` of each set (``"lightness without"``, ``"... with"``)."""
    check_int("n", n, minimum=1)
    refs = tone_references()
    out = {"pictures": {}}
    for label, neg in (("without", None), ("with", negative)):
        pictures = draw(pipe, [prompt] * n, seed, guidance_scale, steps, negative_prompt=neg)
        read = tones_of(pictures, refs)
        out[label] = {tone: read.count(tone) for tone in refs}
        out["pictures"][label] = pictures
        out[f"lightness {label}"] = float(np.mean([_ink_lab(p)[0] for p in pictures]))
    return out


def encoder_retrieval(tokenizer, encoder, limit: int | None = None) -> dict:
    """What each kind of text encoder can know of the paraphrases, before any picture.

    * the pretrained encoder: for each paraphrase, the training caption whose mean token
      state is nearest (cosine); a hit when that caption's emoji has the meant subgroup;
    * a from-scratch encoder like chapter 8's: its word-level tokenizer knows only words
      that occur in some caption; how many of the paraphrases' words it has never seen.

    ``limit``: compare with the meant emoji's captions and only ``limit`` others.
    """
    from .pretrained_text import encode

    train = ec.training_set()
    vocabulary = set().union(*(ec.content_words(c) for c in train.captions()))
    if limit is not None:  # the meant emoji and ``limit`` others (a quick run)
        meant = {name for _, name in ec.PARAPHRASES}
        kept = {i for i, e in enumerate(train.entries) if e.name in meant and e.tone is None}
        kept |= set(np.random.default_rng(0).permutation(len(train))[:limit].tolist())
        train = train.subset(sorted(kept))
    captions = train.captions()

    def pooled(texts):
        rows = []
        for i in range(0, len(texts), 256):
            states, mask = encode(tokenizer, encoder, texts[i : i + 256])
            mean = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            rows.append(torch.nn.functional.normalize(mean, dim=-1))
        return torch.cat(rows)

    nearest = (pooled([p for p, _ in ec.PARAPHRASES]) @ pooled(captions).T).argmax(1).tolist()
    full = ec.load()
    rows = []
    for (prompt, name), j in zip(ec.PARAPHRASES, nearest, strict=True):
        own = ec.content_words(prompt)
        rows.append(
            {
                "paraphrase": prompt,
                "meant": name,
                "nearest caption": captions[j],
                "same subgroup": train.entries[j].subgroup
                == full.entries[full.index(name)].subgroup,
                "words no caption uses": ", ".join(sorted(own - vocabulary)),
                "every word unknown": own <= (own - vocabulary),
            }
        )
    words = sum(len(ec.content_words(r["paraphrase"])) for r in rows)
    unknown = sum(
        len(r["words no caption uses"].split(", ")) for r in rows if r["words no caption uses"]
    )
    return {
        "rows": rows,
        "pretrained": share(sum(r["same subgroup"] for r in rows), len(rows)),
        "unknown words": share(unknown, words),
        "all unknown": share(sum(r["every word unknown"] for r in rows), len(rows)),
    }


def _gesture_and_tone_references(train: ec.EmojiSet):
    gestures = [name for name, tone in ec.HELD_OUT if tone]
    masks = {}
    for g in gestures:
        rows = [i for i, e in enumerate(train.entries) if e.name == g]
        masks[g] = np.mean([colours.emoji_mask(train.images[i]) for i in rows], axis=0)
    refs = tone_references(train)
    return masks, {t: v for t, v in refs.items() if t != NO_TONE}


def _ink_lab(picture) -> np.ndarray:
    lab = colours.to_lab(picture)
    mask = colours.emoji_mask(picture) & (lab[..., 0] > colours.OUTLINE_L)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    ink = mask & (chroma > colours.GREY_CHROMA)
    return lab[ink].mean(0) if ink.any() else np.array([50.0, 0.0, 0.0])


def held_out_pairs(
    pipe, per_pair: int = 16, seed: int = 1, *, guidance_scale: float = 4.0, steps: int = 25
) -> list[dict]:
    """Each :data:`~noise2image.diffusion.emoji_captions.HELD_OUT` pair asked for
    ``per_pair`` times: the share with the asked colour (or skin tone), with the asked shape
    (or gesture), and with both. Shapes are read by mask agreement with the shape's training
    pictures in other colours; a tone by the nearest mean ink colour (CIELAB) of the training
    hands in each tone."""
    check_int("per_pair", per_pair, minimum=1)
    train = ec.training_set()
    shapes = {}
    for shape in ("heart", "circle", "square"):
        rows = [
            i
            for i, e in enumerate(train.entries)
            if e.name.endswith(" " + shape) and len(e.name.split()) == 2
        ]
        shapes[shape] = np.mean([colours.emoji_mask(train.images[i]) for i in rows], axis=0)
    gesture_masks, tone_refs = _gesture_and_tone_references(train)
    out = []
    for name, tone in ec.HELD_OUT:
        prompt = name + (f", {tone}" if tone else "")
        pictures = draw(pipe, [prompt] * per_pair, seed, guidance_scale, steps)
        if tone is None:
            colour, shape = name.split()
            colour_ok = em.has_colour(pictures, colour)
            shape_ok = np.array([s == shape for s in em.shape_votes(pictures, shapes)])
        else:
            labs = [_ink_lab(p) for p in pictures]
            names = list(tone_refs)
            nearest = [
                names[int(np.argmin([np.linalg.norm(lab - tone_refs[t]) for t in names]))]
                for lab in labs
            ]
            colour_ok = np.array([t == tone for t in nearest])
            shape_ok = np.array([s == name for s in em.shape_votes(pictures, gesture_masks)])
        out.append(
            {
                "pair": prompt,
                "colour": share(colour_ok.sum(), per_pair),
                "shape": share(shape_ok.sum(), per_pair),
                "both": share((colour_ok & shape_ok).sum(), per_pair),
                "pictures": pictures,
            }
        )
    return out


def negative_colour(
    pipe,
    prompt: str = "a heart",
    negative: str = "red",
    seeds=(1, 2, 3),
    n: int = 32,
    *,
    guidance_scale: float = 4.0,
    steps: int = 25,
) -> list[dict]:
    """Per seed: how many of ``n`` pictures of ``prompt`` have the colour ``negative``
    without and with it as the negative prompt."""
    if negative not in em.COLOUR_WORDS:
        raise ValueError(f"negative must be one of {em.COLOUR_WORDS}, not {negative!r}")
    rows = negative_concept(
        pipe,
        prompt,
        negative,
        lambda pictures: em.has_colour(pictures, negative),
        seeds,
        n,
        guidance_scale=guidance_scale,
        steps=steps,
    )
    return [{key: row[key] for key in ("seed", "without", "with")} for row in rows]


def negative_concept(
    pipe,
    prompt: str,
    negative: str,
    judge,
    seeds=(1, 2, 3),
    n: int = 32,
    *,
    guidance_scale: float = 4.0,
    steps: int = 25,
) -> list[dict]:
    """Per seed: how many of ``n`` pictures of ``prompt`` show the concept ``negative``
    names, without and with it as the negative prompt. ``judge(pictures)`` -> one bool per
    picture (see :func:`subgroup_judge`, :func:`nearest_name_judge`)."""
    check_int("n", n, minimum=1)
    rows = []
    for seed in seeds:
        plain = draw(pipe, [prompt] * n, seed, guidance_scale, steps)
        steered = draw(pipe, [prompt] * n, seed, guidance_scale, steps, negative_prompt=negative)
        rows.append(
            {
                "seed": seed,
                "without": share(np.asarray(judge(plain)).sum(), n),
                "with": share(np.asarray(judge(steered)).sum(), n),
                "pictures": {"without": plain, "with": steered},
            }
        )
    return rows


def subgroup_judge(classifier, classes: list[str], subgroup: str):
    """A judge for :func:`negative_concept`: the classifier reads the picture as
    ``subgroup`` (e.g. ``"face-smiling"``)."""
    if subgroup not in classes:
        raise ValueError(f"subgroup must be one of the classifier's classes, got {subgroup!r}")

    def judge(pictures):
        return np.array([s == subgroup for s in classify(classifier, classes, pictures)])

    return judge


def nearest_name_judge(name: str, train: ec.EmojiSet | None = None):
    """A judge for :func:`negative_concept`: the picture's nearest training picture is the
    emoji ``name`` (any skin tone)."""
    train = train or ec.training_set()
    if not any(e.name == name for e in train.entries):
        raise ValueError(f"name must be a training emoji's name, got {name!r}")

    def judge(pictures):
        nearest = em.nearest_training(pictures, train.images)["nearest"]
        return np.array([train.entries[j].name == name for j in nearest])

    return judge


def most_drawn(
    pipe,
    prompt: str,
    seed: int,
    n: int = 32,
    subgroup_prefix: str = "",
    *,
    guidance_scale: float = 4.0,
    steps: int = 25,
) -> dict:
    """The training emoji that ``prompt`` draws most often on ``seed`` (by nearest training
    picture, among emoji whose subgroup starts with ``subgroup_prefix``): its name and count.
    A chapter picks the concept to erase with it on its own seed, then measures on others."""
    check_int("n", n, minimum=1)
    train = ec.training_set()
    pictures = draw(pipe, [prompt] * n, seed, guidance_scale, steps)
    nearest = em.nearest_training(pictures, train.images)["nearest"]
    names = [
        train.entries[j].name
        for j in nearest
        if train.entries[j].subgroup.startswith(subgroup_prefix)
    ]
    if not names:
        raise ValueError(
            f"no picture of {prompt!r} is nearest to an emoji whose subgroup starts with "
            f"subgroup_prefix={subgroup_prefix!r}: give a prefix of a subgroup it draws"
        )
    values, counts = np.unique(names, return_counts=True)
    best = int(np.argmax(counts))
    return {"name": str(values[best]), "k": int(counts[best]), "n": n}
