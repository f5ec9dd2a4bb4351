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
