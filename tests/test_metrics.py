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


@pytest.mark.parametrize("noise", [0.05, 0.1, 0.2, 0.3, 0.5])
@pytest.mark.parametrize("sigma", [0.5, 1, 2])
def test_noise_is_not_mistaken_for_sharpness(real, noise, sigma):
    generator = torch.Generator().manual_seed(0)
    reference = metrics.clarity_reference(real["val"])
    clean = metrics.clarity_score(real["test"], reference)
    blurred = blur(real["test"], sigma)
    noisy = (blurred + noise * torch.randn(blurred.shape, generator=generator)).clamp(0, 1)
    assert metrics.clarity_score(noisy, reference) < clean


def test_pure_noise_scores_below_lightly_blurred_digits(real):
    reference = metrics.clarity_reference(real["val"])
    noise = torch.rand(real["test"].shape, generator=torch.Generator().manual_seed(0))
    assert metrics.clarity_score(noise, reference) < metrics.clarity_score(
        blur(real["test"], 1), reference
    )
    assert metrics.clarity_score(torch.zeros_like(real["test"]), reference) == 0


def test_per_image_clarity(real):
    scores = metrics.clarity_score(real["test"][:20], real["val"], per_image=True)
    assert scores.shape == (20,) and (scores > 0).all()


def test_fid_orders_real_blurred_and_noise(real, net):
    generator = torch.Generator().manual_seed(0)
    same = metrics.fid(real["train"][:500], real["test"], net)
    blurred = metrics.fid(real["test"], blur(real["val"], 1), net)
    noise = metrics.fid(real["test"], torch.rand(500, 1, 28, 28, generator=generator), net)
    assert same * 5 < blurred < noise, (same, blurred, noise)


def test_kid_is_near_zero_for_real_and_positive_for_noise(real, net):
    same, _ = metrics.kid(real["train"][:500], real["test"], net)
    noise, _ = metrics.kid(real["test"], torch.rand(500, 1, 28, 28), net)
    assert abs(same) < noise / 20


def test_inception_score_real_near_10_noise_near_1(real, net):
    # 10 would need 100 % confidence on every digit; the shipped network reaches about 9
    assert metrics.inception_score(real["test"], net) > 8.5
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert metrics.inception_score(noise, net) < 2.0


def test_recognisability_of_real_digits_and_of_noise(real, net):
    assert metrics.recognisability(real["test"], net) > 0.9
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert metrics.recognisability(noise, net) < 0.5
    with pytest.raises(ValueError, match="threshold"):
        metrics.recognisability(real["test"], net, threshold=1.5)


def test_evaluate_images_returns_one_row(real, net):
    row = metrics.evaluate_images(real["test"][:200], real["val"], net, name="real")
    assert set(row) == {"images", "n", "clarity", "FID", "KID", "IS", "recognisable"}
    assert row["n"] == 200 and row["recognisable"] > 0.9
