"""Chapter 10's autoencoder: the shapes, the losses, bad settings refused, a short run on real
emoji that learns, and a save/load round trip as a diffusers model."""

import math

import numpy as np
import pytest
import torch

from noise2image.diffusion import emoji_captions as ec
from noise2image.diffusion.colour_vae import (
    ColourVAE,
    ColourVAEConfig,
    edge_loss,
    psnr,
    split_pictures,
    train_colour_vae,
)
from noise2image.profiles import ParameterError


def test_shapes_and_range():
    vae = ColourVAE(width=8)
    x = torch.rand(2, 3, 64, 64)
    latents = vae.encode(x)
    assert latents.shape == (2, 4, 16, 16)
    out = vae.decode(latents)
    assert out.shape == (2, 3, 64, 64) and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        vae.encode(torch.rand(2, 1, 64, 64))


def test_the_edge_loss_sees_a_blur_and_psnr_is_in_db():
    x = torch.zeros(1, 3, 64, 64)
    x[..., 20:44, 20:44] = 1.0
    blurred = torch.nn.functional.avg_pool2d(x, 5, stride=1, padding=2)
    assert edge_loss(x, x) == 0
    assert edge_loss(blurred, x) > 0.01
    assert psnr(x, x) == math.inf
    grey = torch.full((1, 3, 64, 64), 0.5)
    assert psnr(grey + 0.1, grey) == pytest.approx(20.0, abs=0.01)  # error 0.1 everywhere


def test_the_split_is_fixed_and_disjoint():
    train, held = split_pictures(1000, 0.05, seed=0)
    assert len(held) == 50 and not set(train) & set(held) and len(train) + len(held) == 1000
    assert np.array_equal(held, split_pictures(1000, 0.05, seed=0)[1])


@pytest.mark.parametrize(
    "field, value",
    [("epochs", 0), ("lr", float("nan")), ("width", 12), ("held_out", 0.9), ("edge_weight", -1)],
)
def test_bad_settings_are_refused_by_name(field, value):
    with pytest.raises((ParameterError, ValueError), match=field):
        ColourVAEConfig(**{field: value})


def test_a_short_run_on_real_emoji_learns_and_round_trips(tmp_path):
    pictures = ec.load().images[:256]
    config = ColourVAEConfig(epochs=3, width=8, batch_size=32, held_out=0.1)
    result = train_colour_vae(pictures, config, progress=False, checkpoint=False)
    psnrs = [row["psnr"] for row in result.trace]
    assert psnrs[-1] > psnrs[0] + 1 and result.held_out_psnr > 12
    assert result.vae.config.scaling_factor > 0
    result.vae.save_pretrained(tmp_path / "vae")
    again = ColourVAE.from_pretrained(tmp_path / "vae", use_safetensors=True)
    x = torch.from_numpy(pictures[:4]).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        assert torch.equal(again.encode(x), result.vae.encode(x))
    assert again.config.scaling_factor == result.vae.config.scaling_factor
    with pytest.raises(ValueError, match="uint8"):
        train_colour_vae(pictures.astype(np.float32), config, progress=False, checkpoint=False)
