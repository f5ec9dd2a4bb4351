"""Time every chapter under both profiles and write the table to benchmarks/results.md.

    python benchmarks/time_notebooks.py            # all chapters, smoke and full
    python benchmarks/time_notebooks.py 01_data    # one chapter (the other rows are kept)
    python benchmarks/time_notebooks.py --keep out 06_sharpening_loss   # keep the executed copies

Each run is a fresh papermill kernel; peak memory is the kernel's resident memory,
sampled every 0.2 s. The data caches are warm (run once before), as they are for a
reader who re-runs a chapter; the first-ever run of chapter 1 also renders the emoji.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tools/

import datetime
import platform
import tempfile
from pathlib import Path

import torch

from noise2image.runner import chapters, run_notebook
from tools.instructors import read_times

HERE = Path(__file__).resolve().parent


def main(selected: list[str], keep: str | None = None) -> None:
    from noise2image.checkpoints import cache_dir

    models = [cache_dir() / name for name in ("gan", "autoencoder")]
    empty = not any(folder.exists() and any(folder.iterdir()) for folder in models)
    paths = [p for p in chapters() if not selected or p.stem in selected]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        out = keep or scratch
        for path in paths:
            for profile in ("smoke", "full"):
                result = run_notebook(
                    path, Path(out) / f"{profile}-{path.name}", {"profile": profile}
                )
                rows.append((path.stem, profile, result.seconds, result.peak_mib))
                print(
                    f"{path.stem:<28} {profile:<6} {result.seconds:7.1f} s "
                    f"{result.peak_mib:7.0f} MiB"
                )
    measured = {(c, p) for c, p, _, _ in rows}
    kept = [row for row in read_times(HERE / "results.md") if (row[0], row[1]) not in measured]
    rows = sorted(kept + rows, key=lambda row: (row[0], row[1] != "smoke"))
    total = {p: sum(r[2] for r in rows if r[1] == p) for p in ("smoke", "full")}
    lines = [
        "# Chapter run times",
        "",
        f"Measured {datetime.date.today()} by `python benchmarks/time_notebooks.py` on "
        f"{platform.machine()}, {torch.get_num_threads()} torch threads, Python "
        f"{platform.python_version()}, torch {torch.__version__}, "
        + (
            "with an empty model cache, so the chapters train their live runs."
            if empty
            else "with trained models already in the cache."
        ),
        "",
        "| chapter | profile | seconds | peak memory (MiB) |",
        "| --- | --- | ---: | ---: |",
        *[f"| {c} | {p} | {s:.1f} | {m:.0f} |" for c, p, s, m in rows],
        "",
        f"All chapters: {total['smoke']:.0f} s with `smoke`, {total['full']:.0f} s with `full`.",
        "",
    ]
    (HERE / "results.md").write_text("\n".join(lines))
    print(f"wrote {HERE / 'results.md'}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Time chapters under both profiles.")
    parser.add_argument("chapters", nargs="*", help="chapter names (default: all)")
    parser.add_argument("--keep", help="folder to keep the executed notebooks in")
    args = parser.parse_args()
    main(args.chapters, args.keep)
