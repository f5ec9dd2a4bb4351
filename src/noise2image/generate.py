"""Generation (chapter 5): from a trained generator and a 1x100 noise vector to pictures.

* the shipped GANs (:data:`SHIPPED`, :func:`load_shipped`), trained by the project's own
  command ``python -m noise2image.shipped retrain gan-digits`` (or ``gan-emoji``;
  :func:`retrain_shipped`), checked by SHA-256 and loaded with ``weights_only=True``;
* :func:`sample`, :func:`from_seed`, :func:`interpolate`: pictures from noise;
* :func:`layer_trace`: the prediction trace, block by block.

Noise is drawn on the CPU from a seeded generator and moved to the generator's device, so
a seed gives the same noise on every device. Pictures come back on that device, in [-1, 1].

>>> G = load_shipped("digits").generator
>>> pictures = sample(G, 16, seed=0)                 # (16, 1, 28, 28), labels 0-9 in turn
"""

from __future__ import annotations

import json
from dataclasses import asdict

import torch

from .checkpoints import cache_dir, check_out_file, load_shipped_file, write_shipped
from .gan import N_CLASSES, NZ, GANConfig, GANResult, Generator, train_gan
from .profiles import check_choice

__all__ = [
    "SHIPPED",
    "load_shipped",
    "retrain_shipped",
    "sample",
    "from_seed",
    "interpolate",
    "layer_trace",
]


def _device(G: Generator) -> torch.device:
    return next(G.parameters()).device


def _noise(G: Generator, n: int, seed: int) -> torch.Tensor:
    """``n`` noise vectors of ``seed``, drawn on the CPU, on ``G``'s device."""
    return torch.randn(n, NZ, generator=torch.Generator().manual_seed(seed)).to(_device(G))


# ------------------------------------------------------------------------ the shipped GANs

SHIPPED = {
    "digits": GANConfig(dataset="mnist5k", epochs=60),
    "emoji": GANConfig(dataset="openmoji", conditional=False, flip=True, epochs=60),
}


def load_shipped(name: str = "digits", device: str | torch.device = "cpu") -> GANResult:
    """A GAN trained for :data:`SHIPPED` [name] (``"digits"`` or ``"emoji"``).

    It ships inside the package (the moving-average generator and a few snapshots),
    checked by SHA-256 and loaded with ``weights_only=True``; its
    training trace is in the JSON beside it. Re-create it with
    ``python -m noise2image.shipped retrain gan-NAME``.
    """
    config = SHIPPED[check_choice("name", name, tuple(SHIPPED))]
    payload, meta = load_shipped_file(f"gan_{name}")
    G = Generator(config)
    G.load_state_dict(payload["state"]["generator"])
    G = G.to(device).eval()
    snapshots = payload["state"]["snapshots"].float()
    return GANResult(
        config,
        G,
        None,
        meta["trace"],
        snapshots,
        loaded=True,
        snapshot_epochs=payload["state"]["snapshot_epochs"].tolist(),
    )


def retrain_shipped(name: str = "digits", out=None, config: GANConfig | None = None) -> dict:
    """Train ``config`` (default :data:`SHIPPED` [name]) from scratch on the CPU and write
    the shipped checkpoint + JSON, or only the checkpoint to ``out``
    (``python -m noise2image.shipped retrain gan-NAME`` calls this)."""
    config = config or SHIPPED[check_choice("name", name, tuple(SHIPPED))]
    if out is not None:
        check_out_file(out)  # before the training, not after it
    torch.use_deterministic_algorithms(True)
    work = cache_dir() / "gan" / f"shipped-{config.key()}.pt"
    result = train_gan(config, checkpoint=work)
    # small on purpose: the sampling generator only, and 20 fixed-noise pictures at
    # four points of training (the full run, discriminator included, stays in the cache)
    epochs = sorted(
        {0, len(result.snapshots) // 4, len(result.snapshots) // 2, len(result.snapshots) - 1}
    )
    state = {
        "generator": result.generator.state_dict(),
        "snapshots": result.snapshots[epochs][:, :20].half(),
        "snapshot_epochs": torch.tensor(epochs) + 1,
    }
    meta = {
        "trace": result.trace,
        "train_seconds": round(sum(row["seconds"] for row in result.trace), 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "command": f"python -m noise2image.shipped retrain gan-{name}",
    }
    return write_shipped(f"gan_{name}", state, asdict(config), meta, out, indent=1)


def main(argv: list[str] | None = None) -> int:
    """``python -m noise2image.generate --retrain-shipped [digits|emoji]`` (default: digits):
    this release's alias of ``python -m noise2image.shipped retrain gan-NAME``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m noise2image.generate",
        description="Re-create a shipped GAN (an alias of: python -m noise2image.shipped).",
    )
    parser.add_argument(
        "--retrain-shipped",
        nargs="?",
        const="digits",
        choices=tuple(SHIPPED),
        metavar="NAME",
        help="digits (the default) or emoji",
    )
    args = parser.parse_args(argv)
    if not args.retrain_shipped:
        parser.print_help()
        return 0
    meta = retrain_shipped(args.retrain_shipped)
    print(json.dumps({k: v for k, v in meta.items() if k != "trace"}, indent=2))
    print(json.dumps(meta["trace"][-1]))
    return 0


# ----------------------------------------------------------------------------- sampling


@torch.no_grad()
def sample(G: Generator, n: int, seed: int = 0, labels: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` pictures ``(n, C, H, W)`` in [-1, 1] from fresh noise; labels cycle 0-9 by default."""
    z = _noise(G, n, seed)
    if G.config.n_classes and labels is None:
        labels = torch.arange(n) % N_CLASSES
    G.eval()
    return G(z, labels.to(z.device) if G.config.n_classes else None)


@torch.no_grad()
def from_seed(
    G: Generator, seed: int, label: int | None = None, scale: float = 1.0
) -> torch.Tensor:
    """One picture ``(1, C, H, W)`` in [-1, 1] from the noise vector of ``seed``, scaled."""
    z = _noise(G, 1, seed) * scale
    labels = torch.tensor([label if label is not None else 0]) if G.config.n_classes else None
    labels = None if labels is None else labels.to(z.device)
    G.eval()
    return G(z, labels)


@torch.no_grad()
def layer_trace(G: Generator, z: torch.Tensor, labels: torch.Tensor | None = None):
    """The prediction trace: ``[(name, tensor)]`` from the input through every block."""
    G.eval()
    device = _device(G)
    x = G.inputs(z.to(device), None if labels is None else labels.to(device))
    steps = [("input: noise" + (" + label" if G.config.n_classes else ""), x)]
    for i, block in enumerate(G.blocks, start=1):
        x = block(x)
        steps.append((f"block {i}", x))
    return steps


@torch.no_grad()
def interpolate(
    G: Generator, z0: torch.Tensor, z1: torch.Tensor, steps: int = 8, label: int | None = None
) -> torch.Tensor:
    """Pictures along the straight line from ``z0`` to ``z1`` (each ``(100,)``)."""
    weights = torch.linspace(0, 1, steps).view(-1, 1)
    z = ((1 - weights) * z0.cpu() + weights * z1.cpu()).to(_device(G))
    labels = torch.full((steps,), label if label is not None else 0) if G.config.n_classes else None
    G.eval()
    return G(z, None if labels is None else labels.to(z.device))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
