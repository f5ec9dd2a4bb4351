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


def test_load_finished_keeps_unfinished_runs_and_removes_bad_ones(tmp_path, capsys):
    import json

    from conftest import tampered_copy

    from noise2image.checkpoints import load_finished, save_checkpoint

    path = tmp_path / "run.pt"
    assert load_finished(path, {"a": 1}, epochs=2) is None
    save_checkpoint(path, {"trace": json.dumps([{"epoch": 1}])}, {"a": 1})
    assert load_finished(path, {"a": 1}, epochs=2) is None and path.exists()  # resumable
    save_checkpoint(path, {"trace": json.dumps([{"epoch": 1}, {"epoch": 2}])}, {"a": 1})
    assert json.loads(load_finished(path, {"a": 1}, epochs=2)["trace"])[-1] == {"epoch": 2}
    assert load_finished(path, {"a": 2}, epochs=2) is None and not path.exists()  # mismatch
    save_checkpoint(path, {"trace": "[]"}, {"a": 1})
    tampered_copy(path, tmp_path)
    assert load_finished(path, {"a": 1}, epochs=0) is None and not path.exists()  # corrupt
    assert capsys.readouterr().out.count("cannot be used") == 2
