import random

import numpy as np
import pytest
import torch

from noise2image import profiles
from noise2image.profiles import ParameterError


def test_unknown_profile_names_the_allowed_ones():
    with pytest.raises(ParameterError, match="'smoke', 'full'"):
        profiles.setup(profile="nonsense")


def test_pick_follows_the_profile():
    assert profiles.pick("smoke", smoke=1, full=50) == 1
    assert profiles.pick("full", smoke=1, full=50) == 50
    assert profiles.setup("smoke").pick(smoke="a", full="b") == "a"


@pytest.mark.parametrize("value", [-1, 1.5, "3", True])
def test_check_int_rejects_bad_values(value):
    with pytest.raises(ParameterError, match="epochs"):
        profiles.check_int("epochs", value, minimum=0)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), np.float64("nan")])
@pytest.mark.parametrize("bounds", [{}, {"minimum": 0.0}, {"minimum": 0.0, "maximum": 1e9}])
def test_nan_and_infinity_are_refused_with_or_without_bounds(value, bounds):
    with pytest.raises(ParameterError, match="guidance_scale=.* must be a finite number"):
        profiles.check_float("guidance_scale", value, **bounds)


def test_check_float_range():
    assert profiles.check_float("lr", 1, minimum=0) == 1.0
    with pytest.raises(ParameterError, match="<= 1"):
        profiles.check_float("weight", 2.0, minimum=0, maximum=1)


def test_seed_everything_makes_runs_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    profiles.seed_everything(7)
    first = draw()
    profiles.seed_everything(7)
    assert draw() == first
    profiles.seed_everything(8)
    assert draw() != first


def test_device_auto_and_bad_device():
    expected = "cuda" if torch.cuda.is_available() else None
    device = profiles.resolve_device("auto")
    assert device.type in ("cuda", "mps", "cpu")
    if expected:
        assert device.type == expected
    with pytest.raises(ParameterError, match="'auto', 'cpu', 'cuda', 'mps'"):
        profiles.resolve_device("tpu")
