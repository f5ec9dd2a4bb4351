"""The metrics measure what they claim: tested on real, blurred and noisy pictures."""

import pytest
import torch

from noise2image import metrics
from noise2image.data import load_dataset
from noise2image.features import load_feature_net
from noise2image.preprocess import blur


@pytest.fixture(scope="module")
def real():
    return {s: load_dataset("mnist5k", s).images for s in ("train", "val", "test")}


@pytest.fixture(scope="module")
def net():
    return load_feature_net()


@pytest.mark.parametrize("name", ["mnist5k", "openmoji"])
def test_clarity_real_near_100_and_blur_lowers_it_in_order(name):
    test = load_dataset(name, "test").images
    reference = metrics.clarity_reference(load_dataset(name, "val").images)
    real_score = metrics.clarity_score(test, reference)
    assert 90 <= real_score <= 110
    scores = [metrics.clarity_score(blur(test, s), reference) for s in (0.5, 1, 2)]
    assert real_score > scores[0] > scores[1] > scores[2] > 0, scores


@pytest.fixture(scope="module")
def blob():
    """The audit's case: a barely trained regression generator (chapter 6's baseline under
    the smoke profile) draws the same faint, speckled blob for every noise vector."""
    from dataclasses import replace

    from noise2image import regression
    from noise2image.preprocess import denormalise

    config = replace(regression.BASELINE, epochs=1, limit=256)
    G = regression.train_regression(config, progress=False).generator
    with torch.no_grad():
        return denormalise(G(torch.randn(500, 100, generator=torch.Generator().manual_seed(0))))


@pytest.mark.parametrize("noise", [0.05, 0.1, 0.2, 0.3, 0.5])
@pytest.mark.parametrize("sigma", [0.5, 1, 2])
def test_noise_on_a_blurred_picture_lowers_its_clarity(real, noise, sigma):
    # the first clarity rose here (sigma 1: 72.7 blurred, 77.2 with noise 0.1)
    generator = torch.Generator().manual_seed(0)
    reference = metrics.clarity_reference(real["val"])
    blurred = blur(real["test"], sigma)
    noisy = (blurred + noise * torch.randn(blurred.shape, generator=generator)).clamp(0, 1)
    assert metrics.clarity_score(noisy, reference) < metrics.clarity_score(blurred, reference)


def test_a_speckled_blob_scores_far_below_real_and_blurred_digits(real, blob):
    # the first clarity gave this blob 80.9 (real digits 100, blurred sigma 2: 38)
    reference = metrics.clarity_reference(real["val"])
    score = metrics.clarity_score(blob, reference)
    assert score < 20, score
    assert score < metrics.clarity_score(blur(real["test"], 2), reference)
    assert metrics.recognisability(blob) < 0.05  # and nothing in it is a digit


def test_clarity_orders_real_blurred_noisy_and_noise(real):
    reference = metrics.clarity_reference(real["val"])
    generator = torch.Generator().manual_seed(0)
    noisy = (real["test"] + 0.1 * torch.randn(real["test"].shape, generator=generator)).clamp(0, 1)
    scores = [
        metrics.clarity_score(x, reference)
        for x in (real["test"], noisy, torch.rand(real["test"].shape, generator=generator))
    ]
    assert 95 < scores[0] < 105 and scores[1] < 60 and scores[2] < 5, scores


def test_pure_noise_scores_below_lightly_blurred_digits(real):
    reference = metrics.clarity_reference(real["val"])
    noise = torch.rand(real["test"].shape, generator=torch.Generator().manual_seed(0))
    assert metrics.clarity_score(noise, reference) < metrics.clarity_score(
        blur(real["test"], 1), reference
    )
    assert metrics.clarity_score(torch.zeros_like(real["test"]), reference) == 0


@pytest.fixture(scope="module")
def blur_table(real, net):
    """Every metric of the test digits blurred by sigma 0, 0.5, 1, 2 (reference: val)."""
    rows = {}
    for sigma in (0, 0.5, 1, 2):
        images = real["test"] if sigma == 0 else blur(real["test"], sigma)
        rows[sigma] = metrics.evaluate_images(images, real["val"], net)
    return rows


@pytest.mark.parametrize(
    ("name", "worse"),
    [
        ("clarity", "lower"),
        ("FID", "higher"),
        ("KID", "higher"),
        ("IS", "lower"),
        ("recognisable", "lower"),
    ],
)
def test_every_metric_gets_worse_with_blur_in_order(blur_table, name, worse):
    values = [blur_table[sigma][name] for sigma in (0.5, 1, 2)]
    if worse == "higher":
        assert values[0] < values[1] < values[2], values
    else:
        assert values[0] > values[1] > values[2], values


def test_per_image_clarity(real):
    scores = metrics.clarity_score(real["test"][:20], real["val"], per_image=True)
    assert scores.shape == (20,) and (scores > 0).all()


def test_fid_orders_real_blurred_and_noise(real, net):
    generator = torch.Generator().manual_seed(0)
    same = metrics.fid(real["train"][:500], real["test"], net)
    blurred = metrics.fid(real["test"], blur(real["val"], 1), net)
    noise = metrics.fid(real["test"], torch.rand(500, 1, 28, 28, generator=generator), net)
    # measured here: 0.8, 13.8 and 120 (FID of 500 vs 500 pictures has a floor near 0.3-0.8)
    assert same < 1.5 and 10 < blurred < 30 and noise > 100, (same, blurred, noise)


def test_kid_is_near_zero_for_real_and_positive_for_noise(real, net):
    same, _ = metrics.kid(real["train"][:500], real["test"], net)
    noise, _ = metrics.kid(real["test"], torch.rand(500, 1, 28, 28), net)
    # measured: about -0.01 (KID is unbiased, so a real-vs-real estimate can dip below 0)
    assert abs(same) < 0.05 and noise > 2.0, (same, noise)


def test_inception_score_real_near_10_noise_near_1(real, net):
    # 10 would need 100 % confidence on every digit; the shipped network reaches about 9
    assert metrics.inception_score(real["test"], net) > 8.5
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert metrics.inception_score(noise, net) < 1.1  # measured 1.00: no confidence at all


def test_recognisability_of_real_digits_and_of_noise(real, net):
    assert metrics.recognisability(real["test"], net) > 0.9
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert metrics.recognisability(noise, net) < 0.05  # measured 0.0
    with pytest.raises(ValueError, match="threshold"):
        metrics.recognisability(real["test"], net, threshold=1.5)


def test_evaluate_images_returns_one_row(real, net):
    row = metrics.evaluate_images(real["test"][:200], real["val"], net, name="real")
    assert set(row) == {"images", "n", "clarity", "FID", "KID", "IS", "recognisable"}
    assert row["n"] == 200 and row["recognisable"] > 0.9


def test_digit_evaluator_reports_the_chosen_numbers_on_real_and_blurred_digits(real):
    evaluate = metrics.DigitEvaluator(n=500)
    same = evaluate(real["val"][:500])
    assert list(same) == ["clarity", "FID", "recognisable"]
    assert 95 < same["clarity"] < 105 and same["FID"] < 1.5 and same["recognisable"] > 0.9
    blurred = evaluate(blur(real["val"][:500], 2))
    assert blurred["clarity"] < 50 and blurred["FID"] > 50 and blurred["recognisable"] < 0.1
    only = metrics.DigitEvaluator(metrics=("FID", "recognisable"))(real["val"][:500])
    assert list(only) == ["FID", "recognisable"] and only["FID"] == same["FID"]
    with pytest.raises(ValueError, match="'clarity', 'FID', 'recognisable'"):
        metrics.evaluate_digits(real["val"], real["test"], metrics=("sharpness",))


def test_kid_and_inception_score_do_not_depend_on_or_change_the_global_generator(real, net):
    torch.manual_seed(1)
    first = (
        metrics.kid(real["train"][:200], real["test"][:200], net),
        metrics.inception_score(real["test"][:200], net),
    )
    state = torch.get_rng_state()
    torch.manual_seed(2)
    torch.rand(10)
    second = (
        metrics.kid(real["train"][:200], real["test"][:200], net),
        metrics.inception_score(real["test"][:200], net),
    )
    assert first == second
    torch.set_rng_state(state)
    metrics.kid(real["train"][:200], real["test"][:200], net)
    assert torch.equal(torch.get_rng_state(), state)


def test_clarity_is_its_factors_times_100_and_the_reference_scores_one_on_each(real):
    reference = metrics.clarity_reference(real["val"])
    assert metrics.clarity_factors(
        reference.steepness, reference.coherence, reference.steepness, reference.coherence
    ) == (1.0, 1.0)
    blurred = blur(real["test"], 1)
    measured = metrics.clarity_statistics(blurred)
    sharp, coherent = metrics.clarity_factors(
        measured.steepness, measured.coherence, reference.steepness, reference.coherence
    )
    assert 0 < sharp < 1 and 0 < coherent <= 1  # a blur flattens the edges
    clean = min(1.0, metrics.SPECKLE_TOLERANCE * reference.speckle / measured.speckle)
    assert metrics.clarity_score(blurred, reference) == pytest.approx(
        100 * sharp * coherent * clean, rel=1e-12
    )


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_pictures_holding_nan_or_infinity_are_refused_before_any_metric(bad):
    # NaN reaching FID's matrix square root (MKL) can kill the kernel instead of raising
    good = torch.rand(8, 1, 28, 28)
    broken = good.clone()
    broken[3, 0, 5, 5] = bad
    for call in (
        lambda: metrics.fid(good, broken),
        lambda: metrics.kid(broken, good),
        lambda: metrics.inception_score(broken),
        lambda: metrics.recognisability(broken),
    ):
        with pytest.raises(ValueError, match="1 of 8 pictures hold NaN or infinity"):
            call()
