"""The device parameter flows through: everything that trains, samples or measures runs where
it is asked to, and on a machine without a GPU ``"cpu"`` and ``"auto"`` give the same numbers.

GPU checks run only where a CUDA GPU is visible (Colab); GPU kernels are not bit-identical to
the CPU's, so they check placement and plausibility, not equality of the last digits.
"""

import pytest
import torch

from noise2image import autoencoder, features, gan, generate, metrics, regression
from noise2image.data import load_dataset
from noise2image.profiles import ParameterError, resolve_device, setup

NO_GPU = not torch.cuda.is_available()
needs_gpu = pytest.mark.skipif(NO_GPU, reason="no CUDA GPU on this machine (the course's CI)")


def tiny_gan(**changes):
    return gan.GANConfig(**{"epochs": 1, "limit": 64, "ngf": 8, "ndf": 8, **changes})


def on(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


@pytest.mark.skipif(not NO_GPU, reason="compares with the CPU run; a GPU makes 'auto' differ")
def test_cpu_and_auto_give_the_same_gan_without_a_gpu():
    assert resolve_device("auto") == torch.device("cpu")
    a = gan.train_gan(tiny_gan(), progress=False, log=False, device="cpu")
    b = gan.train_gan(tiny_gan(), progress=False, log=False, device=resolve_device("auto"))
    assert a.trace[0]["FID"] == b.trace[0]["FID"]
    assert torch.equal(a.snapshots, b.snapshots)


def test_models_and_pictures_land_on_the_device_asked_for():
    device = torch.device("cpu")
    result = gan.train_gan(tiny_gan(), progress=False, evaluate=False, log=False, device=device)
    assert on(result.generator) == device and result.snapshots.device == device
    assert generate.sample(result.generator, 4).device == device
    assert on(features.load_feature_net(device=device)) == device
    assert on(generate.load_shipped("digits", device=device).generator) == device
    images = load_dataset("mnist5k", "test", device=device).images
    assert images.device == device


def test_cuda_without_a_gpu_stops_with_the_clear_error():
    if not NO_GPU:
        pytest.skip("a CUDA GPU is visible")
    with pytest.raises(ParameterError, match="no CUDA GPU"):
        setup("smoke", 0, "cuda")


@needs_gpu
def test_gan_trains_and_samples_on_the_gpu():
    result = gan.train_gan(tiny_gan(), progress=False, log=False, device="cuda")
    assert on(result.generator).type == "cuda"
    assert generate.sample(result.generator, 8).device.type == "cuda"
    assert 0 <= result.trace[0]["recognisable"] <= 1


@needs_gpu
def test_regression_autoencoder_and_feature_net_run_on_the_gpu():
    config = regression.RegressionConfig(epochs=1, limit=128, adversarial_weight=0.05)
    result = regression.train_regression(config, progress=False, device="cuda")
    assert on(result.generator).type == "cuda"
    ae = autoencoder.train_autoencoder(
        autoencoder.AEConfig(epochs=1, limit=128), progress=False, device="cuda"
    )
    assert on(ae.model).type == "cuda" and ae.evaluation["MSE"] < 0.1
    train = load_dataset("mnist5k", "train")
    net, _ = features.train_feature_net(
        features.FeatureConfig(epochs=1),
        (train.images[:256], train.labels[:256]),
        progress=False,
        device="cuda",
    )
    assert on(net).type == "cuda"
    fake = generate.sample(generate.load_shipped("digits", device="cuda").generator, 100)
    assert metrics.recognisability((fake + 1) / 2) > 0.5
