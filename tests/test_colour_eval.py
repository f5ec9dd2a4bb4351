"""Chapter 10's measurements read the real emoji right: a skin tone read back from the
training hands, held-out shapes recognised, counts with their intervals, and the two
encoders' reach over the paraphrases."""

import numpy as np
import pytest

from noise2image.diffusion import colour_eval, emoji_captions


def test_a_share_carries_its_count_and_interval():
    s = colour_eval.share(6, 500)
    assert s["k"] == 6 and s["n"] == 500 and s["low"] < 0.012 < s["high"]


def test_prompts_name_the_tone():
    entry = emoji_captions.Emoji("X", "x", "waving hand", "people & body", "hand-fingers-open",
                                 "dark skin tone")  # fmt: skip
    assert colour_eval.prompt_of(entry) == "waving hand, dark skin tone"


def test_skin_tones_are_read_back_from_the_training_hands():
    train = emoji_captions.training_set()
    refs = colour_eval.tone_references(train)
    assert set(refs) == {colour_eval.NO_TONE, *emoji_captions.TONES.values()}
    rows = [i for i, e in enumerate(train.entries) if e.subgroup.startswith("hand")]
    read = colour_eval.tones_of(train.images[rows], refs)
    truth = [train.entries[i].tone or colour_eval.NO_TONE for i in rows]
    agree = np.mean([a == b for a, b in zip(read, truth, strict=True)])
    assert agree > 0.8, agree


def test_the_pretrained_encoder_reaches_paraphrases_a_caption_vocabulary_cannot():
    from noise2image.diffusion.pretrained_text import load_text_encoder

    found = colour_eval.encoder_retrieval(*load_text_encoder(), limit=200)
    assert len(found["rows"]) == len(emoji_captions.PARAPHRASES)
    assert found["pretrained"]["share"] > 0.5
    assert found["unknown words"]["share"] > 0.3
    kitty = next(r for r in found["rows"] if r["paraphrase"] == "a kitty")
    assert kitty["words no caption uses"] == "kitty"


class _Pictures:
    """A stand-in pipeline that "draws" fixed training pictures: ``without`` for each prompt
    (a training emoji's prompt gives that emoji), ``with_negative`` when a negative prompt
    is given."""

    def __init__(self, train, without, with_negative=None):
        self.train, self.without, self.with_negative = train, without, with_negative
        self.by_prompt = {colour_eval.prompt_of(e): i for i, e in enumerate(train.entries)}

    def __call__(self, prompts, negative_prompt=None, **_):
        import types

        import torch

        rows = [
            self.with_negative if negative_prompt is not None and self.with_negative is not None
            else self.by_prompt.get(p, self.without)
            for p in prompts
        ]  # fmt: skip
        images = torch.from_numpy(self.train.images[rows]).permute(0, 3, 1, 2).float() / 255
        return types.SimpleNamespace(images=images)


def _index(train, name):
    return next(i for i, e in enumerate(train.entries) if e.name == name and e.tone is None)


def test_erasing_one_animal_is_counted_by_the_nearest_training_picture():
    train = emoji_captions.training_set()
    pipe = _Pictures(train, _index(train, "ox"), _index(train, "llama"))
    found = colour_eval.most_drawn(pipe, "an animal", seed=0, n=6, subgroup_prefix="animal")
    assert found == {"name": "ox", "k": 6, "n": 6}
    rows = colour_eval.negative_concept(
        pipe, "an animal", "ox", colour_eval.nearest_name_judge("ox", train), seeds=(1, 2), n=5
    )
    assert [r["seed"] for r in rows] == [1, 2]
    assert all(r["without"]["k"] == 5 and r["with"]["k"] == 0 for r in rows)
    with pytest.raises(ValueError, match="name"):
        colour_eval.nearest_name_judge("unicorn horse", train)
    with pytest.raises(ValueError, match="subgroup_prefix"):
        colour_eval.most_drawn(pipe, "an animal", seed=0, n=2, subgroup_prefix="plant")


def test_a_subgroup_judge_names_a_class_it_does_not_know():
    with pytest.raises(ValueError, match="subgroup"):
        colour_eval.subgroup_judge(None, ["face-smiling", "heart"], "face-smile")


def test_training_names_give_the_classifiers_ceiling_and_tell_tone_from_shape():
    from noise2image.diffusion import colour_shipped

    _, classifier, classes = colour_shipped.load_shipped()
    train = emoji_captions.training_set()
    exact = colour_eval.training_names(_Pictures(train, 0), classifier, classes, n=40)
    # pictures that are the asked training emoji: classified as their real pictures are
    assert exact["classified as asked"] == exact["real pictures classified as asked"]
    assert exact["nearest is asked"]["share"] == exact["nearest is asked, any tone"]["share"] == 1
    assert exact["near copies"]["k"] == 40
    # every toned emoji drawn in another tone: the shape is right, the tone is not
    by_name = {}
    for i, e in enumerate(train.entries):
        by_name.setdefault(e.name, {})[e.tone] = i

    class OtherTone(_Pictures):
        def __call__(self, prompts, **kw):
            out = super().__call__(prompts, **kw)
            for j, p in enumerate(prompts):
                e = train.entries[self.by_prompt[p]]
                others = [i for t, i in by_name[e.name].items() if t != e.tone]
                if e.tone is not None and others:
                    import torch

                    out.images[j] = torch.from_numpy(train.images[others[0]]).permute(2, 0, 1) / 255
            return out

    swapped = colour_eval.training_names(OtherTone(train, 0), classifier, classes, n=40)
    toned = sum(e.tone is not None for e in swapped["asked"])
    assert 0 < toned < 40
    assert swapped["nearest is asked"]["k"] == 40 - toned
    assert swapped["nearest is asked, any tone"]["k"] == 40

    # every single-toned emoji drawn one tone darker (or lighter, for "dark"): all one step off
    order = list(emoji_captions.TONES.values())

    class NextTone(_Pictures):
        def __call__(self, prompts, **kw):
            out = super().__call__(prompts, **kw)
            for j, p in enumerate(prompts):
                e = train.entries[self.by_prompt[p]]
                if e.tone in order:
                    step = order[order.index(e.tone) + (1 if e.tone != order[-1] else -1)]
                    next_one = by_name[e.name].get(step)
                    if next_one is not None:
                        import torch

                        picture = torch.from_numpy(train.images[next_one]).permute(2, 0, 1)
                        out.images[j] = picture / 255
                        self.moved += 1
            return out

    moved = NextTone(train, 0)
    moved.moved = 0
    stepped = colour_eval.training_names(moved, classifier, classes, n=40)
    assert 0 < moved.moved
    assert stepped["nearest is asked, one tone off"]["k"] == moved.moved
    assert stepped["nearest is asked"]["k"] == 40 - moved.moved
    # a picture of the asked tone, or of a mix of tones, is no step off
    assert exact["nearest is asked, one tone off"]["k"] == 0


def test_tone_steps_count_unicodes_five_tones_and_skip_mixes():
    entries = emoji_captions.training_set().entries
    names = {e.name for e in entries if e.tone == "medium-dark skin tone"}
    name = sorted(n for n in names if sum(e.name == n for e in entries) == 6)[0]  # all five + none
    by_tone = {e.tone: e for e in entries if e.name == name}
    light, dark = by_tone["light skin tone"], by_tone["dark skin tone"]
    assert colour_eval.tone_steps(light, dark) == colour_eval.tone_steps(dark, light) == 4
    assert colour_eval.tone_steps(dark, by_tone["medium-dark skin tone"]) == 1
    assert colour_eval.tone_steps(dark, dark) == 0
    assert colour_eval.tone_steps(dark, by_tone[None]) is None  # the yellow one has no tone
    mixed = next(e for e in entries if " and " in (e.tone or ""))
    assert colour_eval.tone_steps(mixed, dark) is None


def test_each_paraphrase_gets_its_own_row_of_counts():
    from noise2image.diffusion import colour_shipped

    _, classifier, classes = colour_shipped.load_shipped()
    full = emoji_captions.load()
    train = emoji_captions.training_set()
    # a stand-in that draws the real cat for every prompt: only the mammal paraphrases hit
    found = colour_eval.paraphrases(
        _Pictures(train, _index(train, "cat")), classifier, classes, per_prompt=2
    )
    rows = found["by prompt"]
    assert [r["paraphrase"] for r in rows] == [p for p, _ in emoji_captions.PARAPHRASES]
    assert sum(r["as meant"] for r in rows) == found["as meant"]["k"]
    cat = colour_eval.classify(classifier, classes, train.images[[_index(train, "cat")]])[0]
    mammal = [p for p, n in emoji_captions.PARAPHRASES
              if full.entries[full.index(n)].subgroup == cat]  # fmt: skip
    assert {r["paraphrase"] for r in rows if r["as meant"] == 2} == set(mammal)
    assert all(r["read most as"] == f"{cat} (2)" for r in rows)
    assert (rows[0]["meant"], rows[0]["meant subgroup"]) == ("cat", "animal-mammal")


def test_every_measure_draws_with_the_guidance_and_steps_it_is_given():
    # the chapter's guidance_scale and num_inference_steps reach every measurement
    train = emoji_captions.training_set()
    seen = []

    class Recording(_Pictures):
        def __call__(self, prompts, **kw):
            seen.append((kw["guidance_scale"], kw["num_inference_steps"]))
            return super().__call__(prompts, **kw)

    from noise2image.diffusion import colour_shipped

    _, classifier, classes = colour_shipped.load_shipped()
    pipe, call = Recording(train, 0), {"guidance_scale": 7.5, "steps": 3}
    judge = colour_eval.nearest_name_judge(train.entries[0].name, train)
    measures = [
        lambda: colour_eval.training_names(pipe, classifier, classes, n=2, **call),
        lambda: colour_eval.paraphrases(pipe, classifier, classes, per_prompt=1, **call),
        lambda: colour_eval.held_out_pairs(pipe, per_pair=1, **call),
        lambda: colour_eval.negative_colour(pipe, seeds=(1,), n=2, **call),
        lambda: colour_eval.negative_concept(pipe, "a face", "x", judge, seeds=(1,), n=2, **call),
        lambda: colour_eval.most_drawn(pipe, "a face", 0, n=2, **call),
        lambda: colour_eval.tone_shift(pipe, "waving hand", "dark skin tone", n=2, **call),
    ]
    for measure in measures:
        seen.clear()
        measure()
        assert seen and set(seen) == {(7.5, 3)}, seen
