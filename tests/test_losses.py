import pytest
import torch

from noise2image import losses
from noise2image.data import load_dataset
from noise2image.preprocess import blur
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


def test_vgg16_path_runs_offline_with_random_weights(monkeypatch):
    # the download is the only online part: stand in torchvision's VGG16 without weights
    from torchvision.models import vgg16

    def random_vgg16():
        torch.manual_seed(0)
        return vgg16(weights=None).features[: max(losses.VGG16_LAYERS.values()) + 1]

    monkeypatch.setattr(losses, "_vgg16_features", random_vgg16)
    loss = losses.PerceptualLoss("vgg16", layers=list(losses.VGG16_LAYERS))
    digits = load_dataset("mnist5k", "test", seed=0).images[:4]
    maps = loss.features(digits)
    assert [tuple(m.shape[1:2]) for m in maps.values()] == [(64,), (128,), (256,), (512,)]
    assert loss(digits, digits).item() == 0  # identical pictures: no loss
    output = blur(digits, 1.0).requires_grad_(True)
    value = loss(output, digits)
    value.backward()
    assert value.item() > 0 and output.grad.abs().sum() > 0  # gradients reach the picture
    assert not any(p.requires_grad for p in loss.net.parameters())  # the network stays fixed
    changes = loss.relative_change(digits, blur(digits, 2.0))
    assert set(changes) == set(losses.VGG16_LAYERS) and all(v > 0 for v in changes.values())


def test_layer_costs_are_counted_offline_without_random_numbers():
    state = torch.random.get_rng_state()
    vgg = losses.layer_costs("vgg16", size=28)
    course = losses.layer_costs("course", size=28)
    assert torch.equal(state, torch.random.get_rng_state())  # the chapter's numbers stay put
    first = vgg[0]
    # relu1_2: two 3x3 convolutions, 3 -> 64 -> 64 channels, at 28x28
    assert first["layer"] == "relu1_2" and first["shape"] == (64, 28, 28)
    assert first["weights"] == (3 * 9 + 1) * 64 + (64 * 9 + 1) * 64
    assert first["mult_adds"] == 28 * 28 * 64 * (3 * 9 + 64 * 9)
    assert [row["layer"] for row in vgg] == list(losses.VGG16_LAYERS)
    assert [row["layer"] for row in course] == list(losses.COURSE_LAYERS)
    assert vgg[-1]["weights"] > 10 * course[-1]["weights"]
    with pytest.raises(ValueError, match="perceptual_net"):
        losses.layer_costs("resnet")
