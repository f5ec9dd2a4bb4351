"""The course's shipped models: one registry, one command.

Five models are too slow to train inside a chapter, so they ship inside the package, each
made by the project's own command with a fixed configuration and seed, checked by SHA-256
and loaded with ``weights_only=True`` (or, for the pipeline folder, from safetensors):

================  ======================================  =========  ========================
name              what                                    chapters   in ``checkpoints/``
================  ======================================  =========  ========================
feature-net       the course feature network (metrics)    3 onwards  ``feature_net.pt``
gan-digits        the class-conditional digit GAN         4, 5, 6    ``gan_digits.pt``
gan-emoji         the emoji GAN                           4          ``gan_emoji.pt``
diffusion-digits  the miniature text-to-image pipeline    7, 8, 9    ``diffusion_digits/``
diffusion-emoji   colour emoji from words, + classifier   10         ``diffusion_emoji/``
================  ======================================  =========  ========================

One command shape for all of them::

    python -m noise2image.shipped list
    python -m noise2image.shipped verify [NAME ...]        # checksums and configurations
    python -m noise2image.shipped retrain NAME             # overwrites the shipped copy
    python -m noise2image.shipped retrain NAME --out DIR   # a copy elsewhere, to compare
    python -m noise2image.shipped retrain NAME --epochs 2 --out DIR   # a quick check

In Python, :func:`load` (``load("gan-digits")``), :func:`config`, :func:`verify` and
:func:`retrain`. The chapters call the loaders these dispatch to
(:func:`noise2image.features.load_feature_net`, :func:`noise2image.generate.load_shipped`,
:func:`noise2image.diffusion.train.load_shipped`), which a learner meets where the model is
introduced. The older commands (``python -m noise2image.features --retrain``,
``python -m noise2image.generate --retrain-shipped NAME``,
``python -m noise2image.diffusion --retrain-shipped``) remain for this release as aliases.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .checkpoints import CheckpointError, sha256_file
from .profiles import check_choice, check_int

__all__ = ["ShippedModel", "MODELS", "config", "load", "verify", "retrain", "command", "main"]


@dataclass(frozen=True)
class ShippedModel:
    """One shipped model: its name, what it is, where its files lie inside the package."""

    name: str
    what: str
    chapters: str
    path: str  # relative to the package: a ``.pt`` with its ``.json`` beside it, or a folder

    def location(self) -> Path:
        from importlib import resources

        return Path(str(resources.files(__package__))) / self.path

    def meta(self) -> dict[str, Any]:
        """The JSON written with the model: configuration, checksum(s), training trace."""
        where = self.location()
        meta = where / "shipped.json" if where.suffix != ".pt" else where.with_suffix(".json")
        if not meta.is_file():
            raise CheckpointError(f"{self.name}: no {meta.name} at {meta.parent}")
        return json.loads(meta.read_text())


MODELS: dict[str, ShippedModel] = {
    model.name: model
    for model in (
        ShippedModel(
            "feature-net",
            "the course feature network (every metric)",
            "3 onwards",
            "checkpoints/feature_net.pt",
        ),
        ShippedModel(
            "gan-digits", "the class-conditional digit GAN", "4, 5, 6", "checkpoints/gan_digits.pt"
        ),
        ShippedModel("gan-emoji", "the emoji GAN", "4", "checkpoints/gan_emoji.pt"),
        ShippedModel(
            "diffusion-digits",
            "the miniature text-to-image pipeline",
            "7, 8, 9",
            "checkpoints/diffusion_digits",
        ),
        ShippedModel(
            "diffusion-emoji",
            "colour emoji from words (vae, denoiser, emoji classifier)",
            "10",
            "checkpoints/diffusion_emoji",
        ),
    )
}


def _model(name: str) -> ShippedModel:
    return MODELS[check_choice("name", name, tuple(MODELS))]


def command(name: str) -> str:
    """The command that re-creates ``name`` (written into its JSON)."""
    return f"python -m noise2image.shipped retrain {_model(name).name}"


def config(name: str):
    """The configuration dataclass that made ``name`` (fixed; its seed is part of it)."""
    _model(name)
    if name == "feature-net":
        from .features import SHIPPED_CONFIG

        return SHIPPED_CONFIG
    if name.startswith("gan-"):
        from .generate import SHIPPED

        return SHIPPED[name.removeprefix("gan-")]
    if name == "diffusion-emoji":
        from .diffusion.colour_shipped import SHIPPED as COLOUR

        return COLOUR
    from .diffusion.train import SHIPPED as DIFFUSION

    return DIFFUSION


def load(name: str, device: str = "cpu"):
    """The shipped model ``name`` on ``device``, its checksums checked first: a
    :class:`~noise2image.features.FeatureNet`, a :class:`~noise2image.gan.GANResult`, a
    :class:`~noise2image.diffusion.train.DiffusionResult`, or for ``diffusion-emoji``
    ``(ColourResult, classifier, classes)``."""
    _model(name)
    if name == "feature-net":
        from .features import load_feature_net

        return load_feature_net(device=device)
    if name.startswith("gan-"):
        from .generate import load_shipped

        return load_shipped(name.removeprefix("gan-"), device=device)
    if name == "diffusion-emoji":
        from .diffusion.colour_shipped import load_shipped as load_colour

        return load_colour(device=device)
    from .diffusion.train import load_shipped as load_pipeline

    return load_pipeline(device=device)


def _json_ready(value):
    return json.loads(json.dumps(value))


def verify(name: str) -> dict[str, Any]:
    """Check ``name``'s files against the checksums in its JSON and its JSON's configuration
    against :func:`config`. Returns ``{"name", "files", "command"}``; raises
    :class:`~noise2image.checkpoints.CheckpointError` naming what differs."""
    model = _model(name)
    meta = model.meta()
    where = model.location()
    if where.suffix == ".pt":
        expected = {where.name: meta["sha256"]}
        actual = {where.name: sha256_file(where)} if where.is_file() else {}
    else:
        expected = meta["files"]
        actual = {
            str(p.relative_to(where)): sha256_file(p)
            for p in sorted(where.rglob("*"))
            if p.is_file() and p.name != "shipped.json"
        }
    if actual != expected:
        differ = sorted(f for f in set(actual) | set(expected) if actual.get(f) != expected.get(f))
        raise CheckpointError(f"{name}: these files do not match their checksums: {differ}")
    made_with = _json_ready(asdict(config(name)))
    if meta["config"] != made_with:
        keys = sorted(k for k in made_with if meta["config"].get(k) != made_with[k])
        raise CheckpointError(f"{name}: made with another configuration (differs in {keys})")
    return {"name": name, "files": len(actual), "command": meta.get("command", "")}


def retrain(name: str, out: str | Path | None = None, epochs: int | None = None) -> dict:
    """Train ``name`` from scratch with :func:`config` on the CPU and write it: over the
    shipped copy, or into ``out`` (a file for the single-file models, a folder for the
    pipeline) to compare. ``out`` is checked before the training: what the user wrote there
    is never replaced (:func:`~noise2image.checkpoints.check_out_file`). ``epochs`` trains a
    shorter model, only into ``out``, so that a quick check can never replace the shipped
    copy. Returns the JSON written."""
    _model(name)
    if epochs is not None:
        check_int("epochs", epochs, minimum=1)
        if out is None:
            raise ValueError("epochs makes another model: give out= so the shipped one is kept")
    made_with = config(name) if epochs is None else replace(config(name), epochs=epochs)
    if name == "feature-net":
        from .features import retrain_shipped

        return retrain_shipped(out, made_with)
    if name.startswith("gan-"):
        from .generate import retrain_shipped as retrain_gan

        return retrain_gan(name.removeprefix("gan-"), out, made_with)
    if name == "diffusion-emoji":
        from .diffusion.colour_shipped import retrain_shipped as retrain_colour

        return retrain_colour(made_with, out)
    from .diffusion.train import retrain_shipped as retrain_pipeline

    return retrain_pipeline(made_with, out)


def main(argv: list[str] | None = None) -> int:
    """``python -m noise2image.shipped list | verify [NAME ...] | retrain NAME [--out]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m noise2image.shipped",
        description="The course's shipped models: list them, check them, re-create them.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="list|verify|retrain")
    verbs.add_parser("list", help="the shipped models and what they are")
    check = verbs.add_parser("verify", help="checksums and configurations (default: all)")
    check.add_argument("names", nargs="*", metavar="NAME", help=", ".join(MODELS))
    again = verbs.add_parser("retrain", help="train NAME again with its fixed configuration")
    again.add_argument("name", choices=tuple(MODELS), metavar="NAME", help=", ".join(MODELS))
    again.add_argument("--out", help="write here instead of over the shipped copy")
    again.add_argument("--epochs", type=int, help="a shorter run (a quick check; needs --out)")
    args = parser.parse_args(argv)
    if args.verb == "list":
        for model in MODELS.values():
            print(f"{model.name:18} {model.what} (chapters {model.chapters}): {model.path}")
        return 0
    if args.verb == "verify":
        unknown = [name for name in args.names if name not in MODELS]
        if unknown:
            parser.error(f"no shipped model {unknown[0]!r}; the names are {', '.join(MODELS)}")
        failed = 0
        for name in args.names or MODELS:
            try:
                done = verify(name)
            except CheckpointError as exc:
                failed += 1
                print(f"FAILED {exc}", file=sys.stderr)
            else:
                print(f"ok     {name}: {done['files']} file(s) match; made by {done['command']}")
        return 1 if failed else 0
    if args.verb == "retrain":
        if args.epochs is not None and not args.out:
            parser.error("--epochs makes another model: give --out so the shipped one is kept")
        if args.epochs is not None and args.epochs < 1:
            parser.error(f"--epochs must be a whole number >= 1, got {args.epochs}")
        try:
            meta = retrain(args.name, args.out, args.epochs)
        except ValueError as exc:
            parser.error(str(exc))
        shown = {k: v for k, v in meta.items() if k != "trace"}
        print(json.dumps(shown, indent=2))
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
