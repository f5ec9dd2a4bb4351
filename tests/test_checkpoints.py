import pytest
import torch

from noise2image import checkpoints
from noise2image.checkpoints import CheckpointError


def test_round_trip_with_config_and_checksum(tmp_path):
    path = tmp_path / "model.pt"
    state = {"weight": torch.arange(6.0).reshape(2, 3)}
    checkpoints.save_checkpoint(path, {"model": state, "epoch": 3}, {"lr": 0.001, "epochs": 5})
    digest = checkpoints.sha256_file(path)
    payload = checkpoints.load_checkpoint(path, {"lr": 0.001, "epochs": 5}, sha256=digest)
    assert torch.equal(payload["state"]["model"]["weight"], state["weight"])
    assert payload["state"]["epoch"] == 3


def test_mismatched_config_corrupt_file_and_bad_checksum_are_reported(tmp_path):
    path = tmp_path / "model.pt"
    checkpoints.save_checkpoint(path, {"w": torch.ones(2)}, {"lr": 0.001})
    with pytest.raises(CheckpointError, match="another configuration"):
        checkpoints.load_checkpoint(path, {"lr": 0.01})
    with pytest.raises(CheckpointError, match="checksum"):
        checkpoints.load_checkpoint(path, sha256="0" * 64)
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(CheckpointError, match="cannot read"):
        checkpoints.load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        checkpoints.load_checkpoint(tmp_path / "missing.pt")


def test_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "model.pt"
    checkpoints.save_checkpoint(path, {"w": torch.ones(2)}, {"v": 1})
    before = path.read_bytes()
    with pytest.raises(KeyboardInterrupt), checkpoints.atomic_write(path) as handle:
        handle.write(b"half a checkpoint")
        raise KeyboardInterrupt
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_cache_dir_follows_the_environment(tmp_cache):
    assert checkpoints.cache_dir() == tmp_cache and tmp_cache.is_dir()


def test_a_cache_variable_naming_a_file_is_refused_naming_the_variable(tmp_path, monkeypatch):
    from noise2image import checkpoints

    afile = tmp_path / "not_a_folder"
    afile.write_text("mine")
    monkeypatch.setenv("NOISE2IMAGE_CACHE", str(afile))
    with pytest.raises(checkpoints.CheckpointError, match="NOISE2IMAGE_CACHE=.*not_a_folder"):
        checkpoints.cache_dir()
    assert afile.read_text() == "mine"
