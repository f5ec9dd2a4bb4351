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


SMOKE = ROOT / "_build" / "smoke" / "notebooks"  # what `make test`'s smoke run executed
SMOKE_BOOK = ROOT / "_build" / "smoke-book"  # the book built from it (kept: the browser reads it)


def build_book(book: Path):
    """``jupyter-book build BOOK --warningiserror --keep-going``, as ``make book`` runs it."""
    import subprocess
    import sys

    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    return subprocess.run(
        [str(jupyter_book), "build", str(book), "--warningiserror", "--keep-going"],
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="session")
def smoke_book() -> Path:
    """The book built from the notebooks the smoke run executed (execution off): its html
    folder. Built once per test session, in ``_build/smoke-book``."""
    import shutil

    import yaml

    from noise2image.runner import chapters

    executed = sorted(SMOKE.glob("*.ipynb"))
    assert [p.name for p in executed] == [p.name for p in chapters()], (
        "run `make test` (it executes every chapter under the smoke profile first)"
    )
    shutil.rmtree(SMOKE_BOOK, ignore_errors=True)
    shutil.copytree(ROOT / "book", SMOKE_BOOK / "book")
    shutil.copytree(SMOKE, SMOKE_BOOK / "notebooks")
    shutil.copy(ROOT / "_toc.yml", SMOKE_BOOK)
    (SMOKE_BOOK / "benchmarks").mkdir()
    shutil.copy(ROOT / "benchmarks" / "results.md", SMOKE_BOOK / "benchmarks")  # running.md
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"  # already executed by papermill
    (SMOKE_BOOK / "_config.yml").write_text(yaml.safe_dump(config))
    done = build_book(SMOKE_BOOK)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return SMOKE_BOOK / "_build" / "html"
