"""Chapter 10's measurements read the real emoji right: a skin tone read back from the
training hands, held-out shapes recognised, counts with their intervals, and the two
encoders' reach over the paraphrases."""

import numpy as np

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
