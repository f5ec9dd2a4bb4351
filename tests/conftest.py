"""Shared test set-up: a private cache folder for the whole test session."""

import os
import tempfile
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture
def tmp_cache(monkeypatch, tmp_path):
    """Point the course cache at an empty folder for one test."""
    monkeypatch.setenv("NOISE2IMAGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# Notebook runs in this session share one rendered-data cache, kept apart from the user's.
os.environ.setdefault(
    "NOISE2IMAGE_CACHE", str(Path(tempfile.gettempdir()) / "noise2image-test-cache")
)


def tampered_copy(path: Path, folder: Path) -> Path:
    """A copy of ``path`` in ``folder`` with one byte near the end flipped."""
    blob = bytearray(path.read_bytes())
    blob[-64] ^= 0xFF
    copy = folder / path.name
    copy.write_bytes(bytes(blob))
    return copy


def make_tiny_pipe(seed: int = 0):
    """A tiny randomly initialised text-to-image pipeline of the course (chapters 8-9): fast,
    and with random (not zero) denoiser outputs, so that text and adapters change pictures."""
    import torch

    from noise2image.diffusion import train
    from noise2image.diffusion.model import (
        LatentDenoiser,
        MiniVAE,
        make_text_encoder,
        make_tokenizer,
    )

    torch.manual_seed(seed)
    tokenizer = make_tokenizer()
    text_encoder = make_text_encoder(tokenizer, hidden_size=16, layers=1, heads=2)
    unet = LatentDenoiser(width=32, depth=1, expansion=1, text_dim=16, heads=2)
    for p in unet.parameters():  # zero-initialised outputs would hide the text's effect
        torch.nn.init.normal_(p, std=0.1)
    pipe = train.build_pipeline(MiniVAE(scaling_factor=0.3), tokenizer, text_encoder, unet)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def tiny_pipe():
    return make_tiny_pipe()
