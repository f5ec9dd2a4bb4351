"""Chapter 8's claims on fresh seeds (:mod:`noise2image.diffusion.negative_claims`): every
row measured and decided by the course's rule, and the words each section's sentence takes
from its row's verdict."""

from dataclasses import replace

import pytest

from noise2image import claims
from noise2image.diffusion import negative_claims
from noise2image.profiles import ParameterError


def _rows(verdict="held", **verdicts):
    """One constructed row per claim, each with ``verdict`` unless named in ``verdicts``."""
    base = claims.share_bar("x", 5, 10, 0.5)
    return [replace(base, claim=key, verdict=verdicts.get(key.replace(" ", "_"), verdict))
            for key in negative_claims.CLAIMS]  # fmt: skip


@pytest.mark.parametrize("verdict", ["held", "not held", "not shown"])
def test_every_section_word_follows_its_rows_verdict(verdict):
    words = negative_claims.verdict_words(_rows(verdict))
    index = ("held", "not held", "not shown").index(verdict)
    for key, phrases in negative_claims.WORDS.items():
        assert words[key] == phrases[index]
    assert set(words) == set(negative_claims.WORDS) | {"bold cancel"}


@pytest.mark.parametrize(
    ("lowers", "partly", "words"),
    [
        ("held", "held", "only partly cancels that part"),  # still bolder than a plain seven
        ("held", "not held", "cancels that part"),
        ("held", "not shown", "cancels at least part of that part"),
        ("not held", "held", "does not cancel that part"),
        ("not shown", "not shown", "is not shown to cancel that part"),
    ],
)
def test_negating_part_of_the_prompt_is_read_from_both_of_its_rows(lowers, partly, words):
    rows = _rows(bold_negated=lowers, bold_partly=partly)
    assert negative_claims.verdict_words(rows)["bold cancel"] == words


def test_a_concept_row_the_prompt_never_drew_is_not_comparable():
    rows = _rows(concept="not testable here")
    assert negative_claims.verdict_words(rows)["concept"] == "not comparable with"


def test_rows_that_are_not_the_claims_are_refused():
    with pytest.raises(ParameterError, match="rows must be the"):
        negative_claims.verdict_words(_rows()[:-1])


def test_the_fresh_counts_are_glued_as_percentages_and_per_seed_means():
    fresh = negative_claims.Fresh(
        counts={"degraded, scale 1": 30, "sevens, a seven - seven": 3},
        values={"fid, rescale 0.7": [1.0, 2.0, 3.0]},
        n=60, scale=4.0, low_scale=2.0, high_scale=12.0,
    )  # fmt: skip
    assert fresh.glued() == {
        "degraded_scale_1": 50.0,
        "sevens_a_seven_seven": 5.0,
        "fid_rescale_0_7": 2.0,
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"guidance_scale": 1.0}, "guidance_scale=1.0 must be above 1"),
        ({"low_scale": 1.0}, "low_scale=1.0 must be above 1"),
        ({"high_scale": float("nan")}, "high_scale"),
        ({"seeds": []}, "seeds"),
        ({"per_digit": 0}, "per_digit"),
    ],
)
def test_bad_input_is_refused_before_anything_is_drawn(changes, message):
    class NoPipe:  # any drawing would fail: the checks come first
        def __call__(self, *args, **kwargs):
            raise AssertionError("drew pictures before checking its arguments")

    class Evaluator:
        detector = object()

    arguments = {"seeds": (1,), "per_digit": 1, "low_scale": 2.0, "high_scale": 12.0,
                 "guidance_scale": 4.0, **changes}  # fmt: skip
    with pytest.raises(ParameterError, match=message):
        negative_claims.measure(NoPipe(), Evaluator(), None, quality_negative="blurry",
                                real=None, progress=False, **arguments)  # fmt: skip
