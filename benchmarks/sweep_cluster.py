"""A 4-run smoke sweep one after another and on a 2-worker local Dask cluster: wall time.

    .venv/bin/python benchmarks/sweep_cluster.py            # writes benchmarks/sweep_cluster.md

The sweep is `notebooks/experiments/regression_run.ipynb` over sharpen_weight = 0, 1 and
lr = 1e-3, 1e-4 under `profile=smoke`, timed three ways from a fresh output folder:
serially with the kernels' default threads (what `python -m noise2image.sweeps` does without flags),
serially with one thread per kernel, and with `--workers 2 --threads-per-run 1`; the last
two give the same table (tests/test_cluster.py checks it). Each wall time includes the
start of the kernels, and for the cluster the start of the cluster itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tools/

import argparse
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

from noise2image.sweeps import sweep
from tools import ROOT

HERE = Path(__file__).resolve().parent
NOTEBOOK = ROOT / "notebooks" / "experiments" / "regression_run.ipynb"
GRID = {"sharpen_weight": [0.0, 1.0], "lr": [1e-3, 1e-4]}
WAYS = {
    "serial, default threads": {},
    "serial, 1 thread per run": {"threads_per_run": 1},
    "--workers 2 --threads-per-run 1": {"workers": 2, "threads_per_run": 1},
}


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for number, (way, options) in enumerate(WAYS.items()):
            start = time.perf_counter()
            table = sweep(
                NOTEBOOK, GRID, Path(scratch) / str(number), {"profile": "smoke"},
                progress=False, **options,
            )  # fmt: skip
            wall = time.perf_counter() - start
            rows.append((way, wall, table["seconds"].sum()))
            print(f"{way:<34} {wall:6.1f} s wall, runs {table['seconds'].sum():6.1f} s")
    serial = rows[0][1]
    lines = [
        "# Sweeps: one after another, or on a local Dask cluster",
        "",
        f"Measured {datetime.date.today()} by `python benchmarks/sweep_cluster.py` on "
        f"{platform.machine()} with {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}: the 4-run smoke sweep of `regression_run.ipynb` "
        "(sharpen_weight 0, 1 × lr 1e-3, 1e-4), each way from an empty output folder.",
        "",
        "| how | wall time (s) | sum of the runs' own seconds | speed-up over today's serial |",
        "| --- | ---: | ---: | ---: |",
        *[f"| {way} | {t:.1f} | {runs:.1f} | {serial / t:.2f}× |" for way, t, runs in rows],
        "",
        "The wall time includes starting every kernel (and, for the cluster, its two "
        "workers). On two cores the two workers run two notebooks at once, each on one "
        "core; the serial sweep with default threads gives each notebook both cores.",
        "",
    ]
    (HERE / "sweep_cluster.md").write_text("\n".join(lines))
    print(f"wrote {HERE / 'sweep_cluster.md'}")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    main()
