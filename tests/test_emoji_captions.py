"""Chapter 10's data: OpenMoji with the skin tones, captions from names, Unicode subgroups and
measured colours, the held-out pairs kept out of training, paraphrases that say no caption
word."""

import hashlib

import numpy as np
import pytest

from noise2image import colours
from noise2image.diffusion import emoji_captions as ec


@pytest.fixture(scope="module")
def full():
    return ec.load()


def test_the_catalogue_has_the_skin_tones_and_every_picture_a_subgroup():
    entries = ec.catalogue()
    toned = [e for e in entries if e.tone]
    assert len(toned) > 1500 and len(entries) - len(toned) > 1500
    assert {e.tone for e in toned} >= set(ec.TONES.values())
    assert all(e.group and e.subgroup and e.name for e in entries)
    assert not any(w in e.name for e in toned for w in ec.TONES.values())
    thumbs = [e for e in entries if e.name == "thumbs up"]
    assert sorted(str(e.tone) for e in thumbs) == sorted(["None", *ec.TONES.values()])
    assert {e.subgroup for e in thumbs} == {"hand-fingers-closed"}


def test_pictures_are_64_by_64_colour_and_unique(full):
    assert full.images.shape[1:] == (64, 64, 3) and full.images.dtype == np.uint8
    assert len(full) == len(full.entries) == len(full.colours) > 3000
    digests = {hashlib.sha1(p.tobytes()).hexdigest() for p in full.images}
    assert len(digests) == len(full)


def test_captions_say_the_measured_colour(full):
    heart = full.index("red heart")
    assert full.colours[heart] == ["red"]
    assert "red" in full.colours[full.index("red apple")]
    # a name that already says the colour does not say it twice; one that does not, does
    assert ec.caption(full.entries[heart], ["red"]) == "red heart, heart"
    square = np.full((64, 64, 3), 255, np.uint8)
    square[8:56, 8:56] = (0, 0, 0)
    square[10:54, 10:54] = (210, 30, 40)
    words = colours.colour_words(square)
    assert words == ["red"]
    plain = ec.Emoji("X", "x", "box", "objects", "office", None)
    assert ec.caption(plain, words) == "box, red, office"


def test_caption_parts_drop_at_the_stated_rates(full):
    entry = full.entries[full.index("thumbs up", "dark skin tone")]
    rng = np.random.default_rng(0)
    texts = [ec.caption(entry, ["brown"], rng, dropout=0.1) for _ in range(2000)]
    empty = sum(t == "" for t in texts) / len(texts)
    assert 0.07 < empty < 0.13
    kept = [t for t in texts if t]
    assert all(t.startswith("thumbs up, dark skin tone") for t in kept)
    with_colour = sum("brown" in t for t in kept) / len(kept)
    assert 0.45 < with_colour < 0.55
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="dropout"):
            ec.caption(entry, [], rng, dropout=bad)


def test_held_out_pairs_are_absent_from_training_but_their_parts_are_not(full):
    train = ec.training_set()
    held = ec.held_out_set()
    assert [e.key for e in held.entries] == list(ec.HELD_OUT)
    assert len(train) == len(full) - len(ec.HELD_OUT)
    keys = {e.key for e in train.entries}
    assert not keys & set(ec.HELD_OUT)
    seen = {hashlib.sha1(p.tobytes()).hexdigest() for p in train.images}
    assert not any(hashlib.sha1(p.tobytes()).hexdigest() in seen for p in held.images)
    names = {e.name for e in train.entries}
    for name, tone in ec.HELD_OUT:
        if tone is None:  # a colour × shape pair: the colour and the shape with others
            colour, shape = name.split()
            assert any(n.startswith(colour + " ") and n != name for n in names), name
            assert sum(n.endswith(" " + shape) for n in names) >= 5, name
        else:  # a tone × gesture pair: the gesture with other tones, the tone elsewhere
            assert (name, None) in keys
            assert sum(e.name == name for e in train.entries) == len(ec.TONES)
            assert sum(e.tone == tone for e in train.entries) > 100


def test_paraphrases_ask_for_an_emoji_in_words_its_captions_do_not_use(full):
    assert len(ec.PARAPHRASES) >= 25
    for prompt, name in ec.PARAPHRASES:
        i = full.index(name)
        caption = ec.caption(full.entries[i], full.colours[i])  # every part kept
        assert ec.content_words(prompt), prompt
        assert not ec.content_words(prompt) & ec.content_words(caption), (prompt, caption)


def test_an_unknown_name_is_refused_with_the_name(full):
    with pytest.raises(ValueError, match="'blue heart' with tone 'dark skin tone'"):
        full.index("blue heart", "dark skin tone")
