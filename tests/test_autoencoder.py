import pytest
import torch
from conftest import tampered_copy

from noise2image import autoencoder as ae
from noise2image.profiles import ParameterError


def tiny(**changes):
    return ae.AEConfig(**{"epochs": 2, "limit": 512, "width": 8, **changes})


def test_shapes_and_halves():
    model = ae.Autoencoder(ae.AEConfig())
    digits = torch.rand(3, 1, 28, 28)
    latents = model.encode(digits)
    assert latents.shape == (3, 4, 8, 8)
    pictures = model.decode(latents)
    assert pictures.shape == (3, 1, 32, 32) and 0 <= pictures.min() and pictures.max() <= 1
    assert ae.pad32(digits)[:, :, 2:30, 2:30].equal(digits)
    with pytest.raises(ValueError, match="28x28 or 32x32"):
        ae.pad32(torch.rand(1, 1, 20, 20))


def test_bad_config_names_the_problem():
    with pytest.raises(ParameterError, match="'course', 'vgg16'"):
        ae.AEConfig(perceptual_net="alexnet")
    with pytest.raises(ParameterError, match="latent_channels"):
        ae.AEConfig(latent_channels=0)


def test_training_learns_to_reconstruct(tmp_cache):
    result = ae.train_or_load(tiny(epochs=4, limit=1024, width=16), progress=False)
    assert len(result.trace) == 4
    assert result.trace[-1]["val MSE"] < result.trace[0]["val MSE"]
    black = ae._digits("test")[:500].pow(2).mean().item()  # the error of an all-black guess
    assert result.evaluation["MSE"] < 0.25 * black, (result.evaluation["MSE"], black)
    assert result.latent_std > 0


def test_train_or_load_reuses_and_refuses_bad_checkpoints(tmp_cache, capsys):
    config = tiny(epochs=1)
    first = ae.train_or_load(config, progress=False)
    again = ae.train_or_load(config, progress=False)
    assert again.loaded and again.trace == first.trace
    path = ae.checkpoint_path(config)
    tampered_copy(path, path.parent)  # overwrite with a corrupted copy
    third = ae.train_or_load(config, progress=False)
    assert not third.loaded and "cannot be used" in capsys.readouterr().out


def test_interrupted_training_resumes(tmp_cache, monkeypatch):
    config = tiny(epochs=2)
    path = ae.checkpoint_path(config)
    calls = {"n": 0}
    original = torch.optim.Adam.step

    def interrupting_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 12:  # in the second epoch (8 steps per epoch)
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", interrupting_step)
    with pytest.raises(KeyboardInterrupt):
        ae.train_or_load(config, progress=False)
    monkeypatch.setattr(torch.optim.Adam, "step", original)
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    resumed = ae.train_or_load(config, progress=False)
    fresh = ae.train_autoencoder(config, progress=False)
    assert [r["val MSE"] for r in resumed.trace] == pytest.approx(
        [r["val MSE"] for r in fresh.trace]
    )


def test_perceptual_training_traces_both_terms(tmp_cache):
    result = ae.train_or_load(tiny(epochs=1, perceptual_weight=1.0), progress=False)
    assert {"pixel (BCE)", "perceptual", "val MSE"} <= set(result.trace[0])
    assert set(result.evaluation) == {"clarity", "FID", "recognisable", "MSE"}


def test_prediction_trace_goes_through_the_latent_grid():
    model = ae.Autoencoder(ae.AEConfig())
    stages = dict(model.stages(torch.rand(2, 1, 28, 28)))
    assert stages["input (padded)"].shape == (2, 1, 32, 32)
    assert stages["latent grid"].shape == (2, 4, 8, 8)
    names = [name for name, _ in model.stages(torch.rand(1, 1, 28, 28))]
    assert names[-1] == "decoder Conv2d" and names.index("latent grid") < names.index(
        "decoder ConvTranspose2d"
    )
    assert ae.AEConfig().key() == ae.AEConfig().key() != ae.AEConfig(width=8).key()
