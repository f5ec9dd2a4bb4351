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


def test_given_keeps_every_value_but_none_and_checks_it():
    smoke = profiles.setup("smoke")
    assert smoke.given("epochs", None, smoke=1, full=10, minimum=0) == 1
    assert smoke.given("epochs", 0, smoke=1, full=10, minimum=0) == 0  # 0 is 0, not "default"
    with pytest.raises(ParameterError, match="epochs=0 is too small; it must be >= 1"):
        smoke.given("epochs", 0, smoke=1, full=10, minimum=1)
    with pytest.raises(ParameterError, match="epochs=nan must be a whole number"):
        smoke.given("epochs", float("nan"), smoke=1, full=10, minimum=1)
    assert smoke.given("weights", [0, 0.5], smoke=[0, 1], full=[0, 0.1], minimum=0) == (0, 0.5)
    with pytest.raises(ParameterError, match="weights=\\[\\] must be a non-empty list"):
        smoke.given("weights", [], smoke=[0, 1], full=[0, 0.1], minimum=0)
    with pytest.raises(ParameterError, match="epochs.1.=2.5 must be a whole number"):
        smoke.given("epochs", [1, 2.5], smoke=[1], full=[4, 8], minimum=1)


@pytest.mark.parametrize("value", [1, "(1, 2)", (), None, {1: 2}])
def test_a_list_parameter_refuses_a_number_or_text_with_an_example(value):
    example = 'must be a non-empty list .* -y "seeds: \\[1, 2, 3\\]"'
    with pytest.raises(ParameterError, match=example):
        profiles.check_numbers("seeds", value, int, minimum=0)
    assert profiles.check_numbers("seeds", [1, 2], int, minimum=0) == (1, 2)
    with pytest.raises(ParameterError, match="must hold 3 numbers, not 2"):
        profiles.check_numbers("reward_weights", (1.0, 1.0), length=3)
    with pytest.raises(ParameterError, match=r"reward_weights\[2\]=inf must be a finite"):
        profiles.check_numbers("reward_weights", (1.0, 1.0, float("inf")), length=3)


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
