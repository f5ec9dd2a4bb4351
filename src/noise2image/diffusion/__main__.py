"""``python -m noise2image.diffusion --retrain-shipped``: re-create the shipped pipeline.

This release's alias of ``python -m noise2image.shipped retrain diffusion-digits``."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m noise2image.diffusion",
        description="Re-create the shipped text-to-image model (fixed configuration and seed).",
    )
    parser.add_argument(
        "--retrain-shipped", action="store_true", help="train it and write the shipped folder"
    )
    parser.add_argument("--out", help="write the folder here instead of inside the package")
    parser.add_argument(
        "--epochs", type=int, help="train this many epochs instead (a quick check; not shipped)"
    )
    args = parser.parse_args(argv)
    if not args.retrain_shipped:
        parser.print_help()
        return 0
    from dataclasses import replace

    from .train import SHIPPED, retrain_shipped

    if args.epochs is not None and not args.out:
        parser.error("--epochs makes another model: give --out so the shipped one is kept")
    config = SHIPPED if args.epochs is None else replace(SHIPPED, epochs=args.epochs)
    meta = retrain_shipped(config, out=args.out)
    print(json.dumps({k: v for k, v in meta.items() if k not in ("trace", "config")}, indent=2))
    print(json.dumps(meta["trace"][-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
