"""What every training loop of the course shares, written once.

* :func:`save_progress` / :func:`resume`: save a run atomically after every epoch and pick
  it up after its last complete epoch, so an interrupted run loses at most one epoch (the
  GAN, the autoencoder, and the diffusion model to come);
* :func:`load_finished`: the state of a finished run, for the ``train_or_load`` helpers;
* :func:`update_average`: the moving average of a network's weights that is sampled;
* :func:`frozen`: no weight gradients for a network inside a block (a discriminator while
  the generator learns).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoints import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["save_progress", "resume", "load_finished", "update_average", "frozen"]


def save_progress(
    path: str | os.PathLike,
    config: dict[str, Any],
    parts: Mapping[str, Any],
    rng: torch.Generator,
    trace: list[dict],
    **extra: Any,
) -> None:
    """Save a training run after an epoch, atomically: every part's ``state_dict()``
    (networks, optimisers), the run's random generator and torch's, the trace, ``extra``.

    Every training loop that checkpoints calls this after each epoch, and :func:`resume`
    at its start, so an interrupted run loses at most one epoch.
    """
    state = {name: part.state_dict() for name, part in parts.items()}
    state.update(rng=rng.get_state(), torch_rng=torch.get_rng_state(), trace=json.dumps(trace))
    state.update(extra)
    save_checkpoint(path, state, config)


def resume(
    path: str | os.PathLike | None,
    config: dict[str, Any],
    parts: Mapping[str, Any],
    rng: torch.Generator,
    log: bool = True,
) -> tuple[list[dict], dict[str, Any]]:
    """Restore a run saved by :func:`save_progress` into ``parts`` and the generators.

    Returns ``(trace, state)``: the epochs done so far and the whole saved state (for the
    ``extra`` items). No file, or one that is corrupt or from another configuration,
    gives ``([], {})``: the run starts from the beginning.
    """
    if path is None or not Path(path).exists():
        return [], {}
    try:
        state = load_checkpoint(path, config=config)["state"]
        for name, part in parts.items():
            part.load_state_dict(state[name])
        rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        trace = json.loads(state["trace"])
    except (CheckpointError, KeyError) as error:
        print(f"ignoring the checkpoint ({error}); training from the start")
        return [], {}
    if log:
        print(f"resuming from {path.name} (course cache) after epoch {len(trace)}")
    return trace, state


def load_finished(path: str | os.PathLike, config: dict[str, Any], epochs: int) -> dict | None:
    """The state of a *finished* run cached at ``path`` by a ``train_or_load``, or None.

    Finished means its JSON ``trace`` has ``epochs`` rows; an unfinished checkpoint is left
    in place for the training function to resume. A corrupt or mismatched file is reported
    and removed, never loaded.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = load_checkpoint(path, config=config)["state"]
    except CheckpointError as error:
        print(f"the cached checkpoint cannot be used ({error}); training again")
        path.unlink(missing_ok=True)
        return None
    return state if len(json.loads(state["trace"])) == epochs else None


@torch.no_grad()
def update_average(average: nn.Module, model: nn.Module, decay: float, step: int | None = None):
    """Exponential moving average of the weights (and a copy of BatchNorm's statistics).

    Sampling from the average of the last few hundred generator states, instead of the
    last one, smooths out the back-and-forth of the game (Karras et al., 2018). With
    ``step`` (updates so far), the decay warms up as ``min(decay, (1 + step) / (10 + step))``,
    so the early average is not stuck at the random start.
    """
    if step is not None:
        decay = min(decay, (1 + step) / (10 + step))
    for a, p in zip(average.parameters(), model.parameters(), strict=True):
        a.lerp_(p, 1.0 - decay)
    for a, b in zip(average.buffers(), model.buffers(), strict=True):
        a.copy_(b)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """No weight gradients for ``module`` inside the block (the discriminator while the
    generator learns: no work for weights that will not move); restored afterwards."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)
