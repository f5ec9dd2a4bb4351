"""Chapter 6's experiment: the stated generator and configurations, deterministic runs."""

import pytest
import torch
from torch import nn

from noise2image import regression
from noise2image.profiles import ParameterError


def test_simple_generator_is_the_stated_mlp():
    G = regression.SimpleGenerator()
    linears = [m for m in G.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (100, 256),
        (256, 512),
        (512, 1024),
        (1024, 784),
    ]
    assert isinstance(G.net[-1], nn.Tanh)
    out = G(torch.randn(5, 100))
    assert out.shape == (5, 1, 28, 28) and out.abs().max() <= 1
    assert sum(p.numel() for p in G.parameters()) == 1_486_352


def test_configs_of_the_original_experiment_and_bad_values():
    assert (
        regression.BASELINE.epochs,
        regression.BASELINE.lr,
        regression.BASELINE.sharpen_weight,
    ) == (
        20,
        1e-3,
        0,
    )
    fix = regression.CLAIMED_FIX
    assert (fix.epochs, fix.lr, fix.sharpen_weight, fix.kernel) == (50, 1e-4, 0.1, "laplacian")
    with pytest.raises(ParameterError, match="'random', 'fixed'"):
        regression.RegressionConfig(pairing="shuffled")
    with pytest.raises(ParameterError, match="sharpen_weight"):
        regression.RegressionConfig(sharpen_weight=-1)


def tiny(**changes):
    return regression.RegressionConfig(**{"epochs": 2, "limit": 512, **changes})


def test_a_short_run_is_the_prefix_of_a_longer_one():
    short = regression.train_regression(tiny(epochs=1), progress=False)
    long = regression.train_regression(tiny(epochs=2), evaluate_at=[1, 2], progress=False)
    assert short.evaluations[1] == long.evaluations[1]
    assert short.trace[0]["MSE"] == long.trace[0]["MSE"]


def test_random_pairing_regresses_to_the_average_digit():
    # the chapter's explanation of the blur: every noise vector gives about the mean picture
    result = regression.train_regression(tiny(epochs=4), progress=False)
    samples = result.samples[4]
    spread = samples.std(0).mean().item()
    assert spread < 0.05, spread
    from noise2image.data import load_dataset

    mean_digit = load_dataset("mnist5k", "train", seed=0).images[:512].mean(0, keepdim=True)
    # measured: 0.004 from the mean digit, where real test digits are 0.07 away from it
    assert (samples - mean_digit).pow(2).mean().item() < 0.01
    assert result.evaluations[4]["recognisable"] < 0.1


def test_every_loss_term_is_traced():
    config = tiny(epochs=1, sharpen_weight=0.1, perceptual_weight=0.5, adversarial_weight=0.05)
    result = regression.train_regression(config, progress=False)
    assert {"MSE", "sharpening", "perceptual", "adversarial", "seconds"} <= set(result.trace[0])
    assert set(result.evaluations[1]) == {"clarity", "FID", "recognisable"}


def test_ablation_has_one_row_per_combination():
    grid = regression.Ablation([0, 0.1], [1e-3], [1, 2], base=tiny())
    rows = regression.ablation(grid, progress=False)
    assert [(r["sharpen_weight"], r["epochs"]) for r in rows] == [
        (0, 1),
        (0, 2),
        (0.1, 1),
        (0.1, 2),
    ]
    # random pairs: every run draws the average picture, recognised as nothing
    assert all(r["recognisable"] < 0.05 and r["FID"] > 50 for r in rows)


def test_ablation_checks_its_values_when_it_is_made():
    with pytest.raises(ParameterError, match="ablation_weights"):
        regression.Ablation([0, -1], [1e-3], [1])
    with pytest.raises(ParameterError, match="ablation_epochs"):
        regression.Ablation([0], [1e-3], [0])
    with pytest.raises(ParameterError, match="at least one"):
        regression.Ablation([], [1e-3], [1])
    grid = regression.Ablation([0, 0.1], [1e-3, 1e-4], [2, 4], base=tiny())
    assert [(c.sharpen_weight, c.lr, c.epochs) for c in grid.configs()] == [
        (0, 1e-3, 4),
        (0, 1e-4, 4),
        (0.1, 1e-3, 4),
        (0.1, 1e-4, 4),
    ]


def test_train_step_returns_every_weighted_term_and_moves_the_generator():
    config = tiny(sharpen_weight=0.1, gradient_weight=0.1)
    torch.manual_seed(0)
    G = regression.SimpleGenerator()
    opt = torch.optim.Adam(G.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in G.parameters()]
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    terms = regression.train_step(G, opt, real, torch.randn(8, 100), config)
    assert set(terms) == {"MSE", "sharpening", "gradient difference"}
    assert all(isinstance(v, float) and v > 0 for v in terms.values())
    assert any(not torch.equal(a, p) for a, p in zip(before, G.parameters(), strict=True))
