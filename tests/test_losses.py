import pytest
import torch
from torch import nn

from noise2image import losses
from noise2image.data import load_dataset
from noise2image.metrics import blur
from noise2image.profiles import ParameterError


@pytest.fixture(scope="module")
def digits():
    return load_dataset("mnist5k", "test", seed=0).images[:64]


LOSSES = {
    "sharpening": losses.sharpening_loss,
    "gradient difference": losses.gradient_difference_loss,
    "perceptual (course)": losses.PerceptualLoss("course"),
}


@pytest.mark.parametrize("name", LOSSES)
def test_zero_for_identical_and_larger_the_more_blurred(name, digits):
    loss = LOSSES[name]
    assert loss(digits, digits).item() == pytest.approx(0.0, abs=1e-7)
    values = [loss(blur(digits, sigma), digits).item() for sigma in (0.5, 1.0, 2.0)]
    assert 0 < values[0] < values[1] < values[2], values


@pytest.mark.parametrize("name", LOSSES)
def test_gradients_flow_to_the_output(name, digits):
    output = blur(digits, 1.0).requires_grad_(True)
    LOSSES[name](output, digits).backward()
    assert output.grad is not None and output.grad.abs().sum() > 0


def test_sharpening_loss_uses_the_original_kernel_and_accepts_others(digits):
    assert losses.KERNELS["laplacian"].tolist() == [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]
    blurred = blur(digits, 1.0)
    four = losses.sharpening_loss(blurred, digits, "laplacian4")
    custom = losses.sharpening_loss(
        blurred, digits, torch.tensor([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]])
    )
    assert custom.item() == pytest.approx(
        torch.nn.functional.mse_loss(blurred, digits).item(), rel=1e-5
    )
    assert 0 < four.item() < losses.sharpening_loss(blurred, digits).item()
    with pytest.raises(ParameterError, match="'laplacian'"):
        losses.sharpening_loss(blurred, digits, "sobel")
    with pytest.raises(ValueError, match="odd size"):
        losses.edge_map(digits, torch.ones(2, 2))


def test_edge_map_is_linear_so_the_mean_has_the_mean_edges(digits):
    # why the sharpening loss cannot undo MSE's averaging (chapter 6)
    mean_of_edges = losses.edge_map(digits).mean(0)
    edges_of_mean = losses.edge_map(digits.mean(0, keepdim=True))[0]
    assert torch.allclose(mean_of_edges, edges_of_mean, atol=1e-5)


def test_perceptual_loss_layers_and_ranges(digits):
    early = losses.PerceptualLoss("course", layers=["block1"])
    assert set(early.features(digits)) == {"block1"}
    assert early.features(digits)["block1"].shape == (64, 32, 14, 14)
    tanh = losses.PerceptualLoss("course", value_range=(-1.0, 1.0))
    unit = losses.PerceptualLoss("course")
    a, b = blur(digits, 1.0), digits
    assert tanh(a * 2 - 1, b * 2 - 1).item() == pytest.approx(unit(a, b).item(), rel=1e-5)
    assert all(not p.requires_grad for p in unit.net.parameters())
    unit.train()
    assert not unit.net.training
    with pytest.raises(ParameterError, match="'course', 'vgg16'"):
        losses.PerceptualLoss("resnet")
    with pytest.raises(ParameterError, match="'block1'"):
        losses.PerceptualLoss("course", layers=["conv9"])


def test_vgg16_offline_fails_at_once_naming_the_alternative(monkeypatch, tmp_path):
    import time

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(losses, "_VGG_HOST", "unreachable.invalid")
    start = time.perf_counter()
    with pytest.raises(losses.PerceptualNetUnavailable, match="perceptual_net='course'"):
        losses.PerceptualLoss("vgg16")
    assert time.perf_counter() - start < 10


def test_simple_generator_is_the_stated_mlp():
    G = losses.SimpleGenerator()
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
    assert (losses.BASELINE.epochs, losses.BASELINE.lr, losses.BASELINE.sharpen_weight) == (
        20,
        1e-3,
        0,
    )
    fix = losses.CLAIMED_FIX
    assert (fix.epochs, fix.lr, fix.sharpen_weight, fix.kernel) == (50, 1e-4, 0.1, "laplacian")
    with pytest.raises(ParameterError, match="'random', 'fixed'"):
        losses.RegressionConfig(pairing="shuffled")
    with pytest.raises(ParameterError, match="sharpen_weight"):
        losses.RegressionConfig(sharpen_weight=-1)


def tiny(**changes):
    return losses.RegressionConfig(**{"epochs": 2, "limit": 512, **changes})


def test_a_short_run_is_the_prefix_of_a_longer_one():
    short = losses.train_regression(tiny(epochs=1), progress=False)
    long = losses.train_regression(tiny(epochs=2), evaluate_at=[1, 2], progress=False)
    assert short.evaluations[1] == long.evaluations[1]
    assert short.trace[0]["MSE"] == long.trace[0]["MSE"]


def test_random_pairing_regresses_to_the_average_digit():
    # the chapter's explanation of the blur: every noise vector gives about the mean picture
    result = losses.train_regression(tiny(epochs=4), progress=False)
    samples = result.samples[4]
    spread = samples.std(0).mean().item()
    assert spread < 0.05, spread
    assert result.evaluations[4]["recognisable"] < 0.1


def test_every_loss_term_is_traced():
    config = tiny(epochs=1, sharpen_weight=0.1, perceptual_weight=0.5, adversarial_weight=0.05)
    result = losses.train_regression(config, progress=False)
    assert {"MSE", "sharpening", "perceptual", "adversarial", "seconds"} <= set(result.trace[0])
    assert set(result.evaluations[1]) == {"clarity", "FID", "recognisable"}


def test_ablation_has_one_row_per_combination():
    rows = losses.ablation([0, 0.1], [1e-3], [1, 2], base=tiny(), progress=False)
    assert [(r["sharpen_weight"], r["epochs"]) for r in rows] == [
        (0, 1),
        (0, 2),
        (0.1, 1),
        (0.1, 2),
    ]
    assert all(r["seconds"] > 0 and 0 <= r["recognisable"] <= 1 for r in rows)
