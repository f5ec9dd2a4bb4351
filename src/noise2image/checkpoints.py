"""Safe files: atomic writes, checksums, and the course's cache folder.

Every file the course writes (rendered data, trained checkpoints) goes through
:func:`atomic_write`: the bytes land in a temporary file in the same folder, which is
renamed over the target only when it is complete. An interrupted run therefore leaves
either the old file or no file, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "config_key",
    "shipped_files",
    "load_shipped_file",
    "write_shipped",
    "check_out_file",
    "check_save_folder",
    "cache_dir",
    "atomic_write",
    "sha256_file",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointError",
]


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or was made with another configuration."""


def cache_dir() -> Path:
    """The folder for rendered data and cached models.

    ``$NOISE2IMAGE_CACHE`` if set, else ``~/.cache/noise2image``. Created on demand.
    """
    root = os.environ.get("NOISE2IMAGE_CACHE") or Path.home() / ".cache" / "noise2image"
    path = Path(root)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError, PermissionError) as exc:
        where = "NOISE2IMAGE_CACHE" if os.environ.get("NOISE2IMAGE_CACHE") else "the default cache"
        raise CheckpointError(
            f"{where}={str(path)!r} cannot be the course's cache folder ({exc.strerror}): set "
            "NOISE2IMAGE_CACHE to a folder you can write, or unset it for ~/.cache/noise2image"
        ) from exc
    return path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[io.IOBase]:
    """Open a temporary file next to ``path``; rename it onto ``path`` on success.

    If the body raises (including ``KeyboardInterrupt``), the temporary file is
    removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any], config: dict[str, Any]) -> None:
    """Atomically save ``{"state": state, "config": config}`` with ``torch.save``.

    ``state`` holds tensors (state dicts) and plain numbers; ``config`` must be
    JSON-serialisable, so that it can be compared on load.
    """
    json.dumps(config)  # fail early, before anything is written
    with atomic_write(path) as handle:
        torch.save({"state": state, "config": config}, handle)


def load_checkpoint(
    path: str | os.PathLike,
    config: dict[str, Any] | None = None,
    sha256: str | None = None,
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    Raises :class:`CheckpointError` if the file is missing or unreadable, if its
    checksum differs from ``sha256``, or if its stored config differs from ``config``.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256:
            raise CheckpointError(f"checksum mismatch for {path}: expected {sha256}, got {actual}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or truncated file
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(payload, dict) or "state" not in payload or "config" not in payload:
        raise CheckpointError(f"{path} is not a noise2image checkpoint")
    if config is not None and payload["config"] != json.loads(json.dumps(config)):
        raise CheckpointError(
            f"{path} was made with another configuration: {payload['config']} != {config}"
        )
    return payload


def config_key(config: Any) -> str:
    """A short hash of a configuration dataclass: the name of its cached checkpoint."""
    from dataclasses import asdict

    text = json.dumps(asdict(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# ----------------------------------------------------------------------------- shipped models


def shipped_files(stem: str) -> tuple[Path, Path]:
    """The shipped checkpoint ``checkpoints/STEM.pt`` inside the package and its JSON."""
    from importlib import resources

    root = Path(str(resources.files(__package__))) / "checkpoints"
    return root / f"{stem}.pt", root / f"{stem}.json"


def load_shipped_file(stem: str, path: str | os.PathLike | None = None) -> tuple[dict, dict]:
    """``(payload, meta)`` of a shipped model, its SHA-256 checked against its JSON.

    With ``path``, that file is loaded instead (a retrained copy; its checksum is not the
    shipped one, its configuration must be). Raises :class:`CheckpointError` on a mismatch.
    """
    default, meta_path = shipped_files(stem)
    meta = json.loads(meta_path.read_text())
    payload = load_checkpoint(
        path or default, config=meta["config"], sha256=None if path else meta["sha256"]
    )
    return payload, meta


def check_out_file(out: str | os.PathLike) -> Path:
    """``out`` as a new checkpoint file a retraining may write. A folder, any existing file
    (the user's own, or an earlier copy: remove it yourself to write it again) and a missing
    parent folder are refused before any training: a save never replaces what is there."""
    out = Path(out)
    if out.is_dir():
        raise ValueError(f"out={str(out)!r} is a folder; give a file name such as again.pt")
    if out.exists():
        raise ValueError(f"out={str(out)!r} exists; give a new file name (nothing is replaced)")
    if not out.parent.is_dir():
        raise ValueError(f"out={str(out)!r}: the folder {str(out.parent)!r} does not exist")
    return out


def check_save_folder(folder: str | os.PathLike, argument: str, own: set[str]) -> Path:
    """``folder`` as a folder a save may (re)write: new, empty, or holding only ``own``
    (paths relative to it, the files that save writes). A file, or a folder holding anything
    else, raises ``ValueError`` naming ``argument`` and what is in the way: a save never
    removes what it did not write."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{argument}={str(folder)!r} is a file; give a folder (new or empty)")
    if folder.is_dir():
        others = sorted(
            str(p.relative_to(folder))
            for p in folder.rglob("*")
            if p.is_file() and str(p.relative_to(folder)) not in own
        )
        if others:
            more = ", ..." if len(others) > 3 else ""
            raise ValueError(
                f"{argument}={str(folder)!r} holds files this save did not write "
                f"({', '.join(others[:3])}{more}); give a new or empty folder"
            )
    return folder


def write_shipped(
    stem: str,
    state: dict[str, Any],
    config: dict[str, Any],
    meta: dict[str, Any],
    out: str | os.PathLike | None = None,
    indent: int = 2,
) -> dict[str, Any]:
    """Write a shipped model (``out``: elsewhere, for a reproducibility check) and, when it
    is the shipped file itself, its JSON: config, SHA-256, then ``meta``. Returns the JSON."""
    default, meta_path = shipped_files(stem)
    out = Path(out) if out else default
    save_checkpoint(out, state, config)
    meta = {"config": config, "sha256": sha256_file(out), **meta}
    if out == default:
        meta_path.write_text(json.dumps(meta, indent=indent) + "\n")
    return meta
