"""Every chapter's prose, read with its expected numbers under both profiles, says nothing
its numbers contradict (:mod:`tools.prose`): no claims row whose verdict its own interval
denies, no "thicken from 3.12 to 2.91 px", no "1 steps", no "100.0 % instead of 100.0 %".
``python -m tools.expected check`` applies the same reading to every executed chapter."""

import json

import pytest

from noise2image import claims, runner
from tools import ROOT, expected, prose

CHAPTERS = runner.chapters(ROOT / "notebooks")


@pytest.mark.parametrize("profile", ["smoke", "full"])
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_prose_does_not_contradict_its_numbers(chapter, profile):
    values = json.loads(expected.expected_file(chapter, profile).read_text())["values"]
    problems = prose.chapter_problems(chapter, values)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "sentence",
    [
        "- **LoRA at full scale**: the strokes thicken from 3.12 to 2.91 px.",
        "Guidance removes most of the rest (at scale 2: 48.0 % → 52.0 %).",
        "The mean stroke thickness does not rise (2.90 → 3.25 px).",
        "It is read as a seven 100.0 % of the time instead of 100.0 %.",
        "In its 1 steps the optimiser rewrote 0 of the 10 prompts.",
        "In its 1 step steps the optimiser rewrote 0 of the 10 prompts.",
    ],
)
def test_the_reading_catches_the_sentences_the_reviews_found(sentence):
    assert prose.sentence_problems(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "the strokes thicken from 2.91 to 3.12 px.",
        "Guidance does not remove them (48.0 % → 52.0 %).",
        "On the fresh seeds it is not shown to lower the FID (0.38 → 0.38 × the baseline).",
        "The mean stroke thickness does not rise (3.25 → 2.90 px).",
        "It is read as a seven 98.8 % of the time instead of 100.0 %.",
        "In its 1 step the optimiser rewrote 1 of the 10 prompts; 1.0 points.",
    ],
)
def test_the_reading_passes_sentences_that_agree_with_their_numbers(sentence):
    assert prose.sentence_problems(sentence) == []


def test_glued_values_are_filled_in_as_the_book_formats_them():
    text, missing = prose.render(
        "FID {glue:text}`fid:.2f`, verdict {glue:text}`word`, {glue:text}`gone:.1f`.",
        {"fid": 1.23456, "word": "held"},
    )
    assert text == "FID 1.23, verdict held, ?." and missing == ["gone"]


def test_a_claims_row_its_numbers_deny_is_caught():
    row = claims.share_bar("asked >= 95 %", 90, 100, 0.95).row()
    values = {f"claims.{row['claim']}.{key}": row[key] for key in claims.RECORDED}
    assert prose.claims_problems(values) == []
    values["claims.asked >= 95 %.verdict"] = "held"
    (problem,) = prose.claims_problems(values)
    assert "asked >= 95 %" in problem and "not held" in problem
