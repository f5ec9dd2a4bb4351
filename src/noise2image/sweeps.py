"""Sweeps: one chapter run over a grid of parameters, what each run recorded in one table.

>>> from noise2image.sweeps import sweep
>>> table = sweep("notebooks/experiments/regression_run.ipynb",
...               {"sharpen_weight": [0, 0.1], "lr": [1e-3, 1e-4]},
...               out="_build/sweep", parameters={"profile": "smoke"})

or from a shell: ``python -m noise2image.sweeps NOTEBOOK --grid lr=1e-3,1e-4 ...``.
One after another by default (:func:`noise2image.runner.run_notebook`); ``workers=N``
(``--workers N``) runs the grid on a local Dask cluster, ``scheduler=`` / ``client=`` on an
existing one (:mod:`noise2image.cluster`, ``pip install 'noise2image[cluster]'``). Each run
records its numbers with :func:`noise2image.records.record`.
"""

from __future__ import annotations

import ast
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .records import recorded
from .runner import run_notebook

__all__ = ["SweepPoint", "SweepError", "sweep_points", "sweep", "finished", "mark_done"]


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep: its number in grid order, its grid values, every parameter it
    is run with, its key (the notebook's text, the parameters and the thread count, hashed:
    the same run always has the same key) and the executed copy it is written to."""

    number: int
    chosen: dict[str, Any]
    parameters: dict[str, Any]
    key: str
    output: Path


class SweepError(RuntimeError):
    """Some runs of a sweep failed; the message lists each with its error."""


def sweep_points(
    notebook: str | Path,
    grid: Mapping[str, Sequence[Any]],
    out: str | Path,
    parameters: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> list[SweepPoint]:
    """The runs of a sweep in grid order, after checking every name against the
    notebook's ``parameters`` cell (papermill would only warn, and run the defaults)."""
    import hashlib

    from .profiles import ParameterError
    from .runner import parameters as notebook_parameters

    notebook, out = Path(notebook), Path(out)
    if not grid or any(len(values) == 0 for values in grid.values()):
        raise ValueError("the grid needs at least one parameter with at least one value")
    known = [entry["name"] for entry in notebook_parameters(notebook)]
    for name in [*grid, *(parameters or {})]:
        if name not in known:
            raise ParameterError(
                f"{notebook.name} has no parameter {name!r}; its parameters are: "
                + ", ".join(known)
            )
    source = hashlib.sha256(notebook.read_bytes()).hexdigest()
    keys = list(grid)
    points = []
    for number, values in enumerate(itertools.product(*(grid[key] for key in keys)), 1):
        chosen = dict(zip(keys, values, strict=True))
        run = {**dict(parameters or {}), **chosen}
        text = json.dumps([source, run, threads], sort_keys=True, default=repr)
        key = f"{notebook.stem}-{number:03d}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
        output = out / f"{notebook.stem}-{number:03d}.ipynb"
        points.append(SweepPoint(number, chosen, run, key, output))
    return points


def finished(point: SweepPoint, name: str) -> float | None:
    """The seconds of a run already done (its executed copy holds the same key and a
    record named ``name``), else ``None``."""
    if not point.output.exists():
        return None
    try:
        done = json.loads(point.output.read_text("utf-8"))["metadata"]["noise2image"]["sweep"]
    except (KeyError, TypeError, json.JSONDecodeError):
        return None
    if done.get("key") != point.key or name not in recorded(point.output):
        return None
    return done["seconds"]


def mark_done(point: SweepPoint, executed: str | dict, seconds: float) -> None:
    """Write the executed notebook to its place with the run's key: atomically, so an
    interrupted sweep never leaves a half-written copy that a rerun would trust."""
    from .checkpoints import atomic_write

    book = json.loads(executed) if isinstance(executed, str) else executed
    book.setdefault("metadata", {}).setdefault("noise2image", {})["sweep"] = {
        "key": point.key,
        "seconds": round(seconds, 3),
    }
    with atomic_write(point.output) as handle:
        handle.write((json.dumps(book, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))


def _run_serially(notebook, points, name, threads, bar, failures, retries=2) -> dict[int, float]:
    """Run ``points`` one after another. A failing cell is a failure at once (a rerun would
    fail the same way); a dead kernel (a crash in a library, the memory killer) is retried
    ``retries`` times, as the cluster does; a full disk is a failure that names the path.
    Every other run still runs."""
    import papermill

    seconds = {}
    for point in points:
        for attempt in range(retries + 1):
            try:
                result = run_notebook(notebook, point.output, point.parameters, threads=threads)
                mark_done(point, point.output.read_text("utf-8"), result.seconds)
            except papermill.PapermillExecutionError as error:
                failures[point.number] = f"{error.ename}: {error.evalue}"
            except OSError as error:  # no space left, a folder that cannot be written
                failures[point.number] = (
                    f"{type(error).__name__} writing {error.filename or point.output}: "
                    f"{error.strerror or error}"
                )
            except Exception as error:  # noqa: BLE001 - a dead kernel: retry, then report
                failures[point.number] = (
                    f"{type(error).__name__}: {error} (the kernel died; tried {attempt + 1} "
                    f"time{'s' if attempt else ''})"
                )
                continue
            else:
                failures.pop(point.number, None)
                seconds[point.number] = result.seconds
            break
        bar.update()
    return seconds


_MARK = "# failed runs of a noise2image sweep (removed with sweep.partial.csv once all worked)"


def _ours(out: Path) -> bool:
    """Whether ``failures.txt`` in ``out`` is one a sweep wrote (its first line), so that
    it and ``sweep.partial.csv`` may be removed or replaced: a user's file never is."""
    try:
        with open(out / "failures.txt", encoding="utf-8") as handle:
            return handle.readline().rstrip("\n") == _MARK
    except (OSError, UnicodeDecodeError):
        return False


def _write_partial(out: Path, rows: list[dict], lines: list[str]) -> list[Path]:
    """After failed runs: the table of the runs that worked and the list of the failures,
    beside the executed copies (never ``sweep.csv``, which means "every run worked")."""
    import pandas as pd

    from .checkpoints import atomic_write

    written = []
    taken = [p for p in ("sweep.partial.csv", "failures.txt") if (out / p).exists()]
    if taken and not _ours(out):  # files of the user's with these names: leave them be
        return written
    try:
        if rows:
            with atomic_write(out / "sweep.partial.csv") as handle:
                handle.write(pd.DataFrame(rows).to_csv(index=False).encode("utf-8"))
            written.append(out / "sweep.partial.csv")
        with atomic_write(out / "failures.txt") as handle:
            text = "\n".join([_MARK, *(line.strip() for line in lines)]) + "\n"
            handle.write(text.encode("utf-8"))
        written.append(out / "failures.txt")
    except OSError:  # a full disk: the error message below still lists the failures
        pass
    return written


def sweep(
    notebook: str | Path,
    grid: Mapping[str, Sequence[Any]],
    out: str | Path,
    parameters: Mapping[str, Any] | None = None,
    name: str = "metrics",
    progress: bool = True,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    threads_per_run: int | None = None,
    retries: int = 2,
):
    """Run ``notebook`` once per combination of the values in ``grid`` (plus the fixed
    ``parameters``) and gather what each run recorded under ``name`` into one table.

    Each executed copy is kept in ``out`` (``NAME-001.ipynb``, ...), the table is written
    to ``out/sweep.csv`` and returned as a DataFrame: one row per run in grid order, the
    grid's parameters first, then the recorded numbers and the run's seconds.

    Runs one after another here, unless ``workers`` (a local Dask cluster of that many
    single-threaded worker processes), ``scheduler`` (an address, ``tcp://HOST:PORT``) or
    ``client`` (a ``distributed.Client``) sends them to a cluster (:mod:`.cluster`).
    ``threads_per_run`` sets each kernel's thread count on every path, so a run gives the
    same numbers here and there. A run whose copy in ``out`` already holds the same
    notebook, parameters, thread count and a record is not run again (a rerun resumes).
    A failing run never stops the others (a dead kernel is retried ``retries`` times). If
    any run failed, ``sweep.csv`` is not written: ``sweep.partial.csv`` holds the runs that
    worked, ``failures.txt`` the failures, and :class:`SweepError` lists them.
    """
    import pandas as pd

    from .progress import progress_bar

    notebook, out = Path(notebook), Path(out)
    points = sweep_points(notebook, grid, out, parameters, threads_per_run)
    seconds = {p.number: s for p in points if (s := finished(p, name)) is not None}
    todo = [point for point in points if point.number not in seconds]
    failures: dict[int, str] = {}
    cluster = workers is not None or scheduler is not None or client is not None
    with progress_bar(total=len(points), desc="sweep", disable=not progress) as bar:
        bar.update(len(seconds))
        if todo and cluster:
            from .cluster import run_points

            seconds |= run_points(
                notebook, todo, bar, failures, done=mark_done, workers=workers,
                scheduler=scheduler, client=client, threads=threads_per_run, retries=retries,
            )  # fmt: skip
        elif todo:
            seconds |= _run_serially(notebook, todo, name, threads_per_run, bar, failures, retries)
    rows = []
    for point in points:
        if point.number in failures:
            continue
        found = recorded(point.output)
        if name not in found:
            failures[point.number] = f"recorded no {name!r} (it recorded {sorted(found)})"
            continue
        rows.append({**point.chosen, **found[name], "seconds": round(seconds[point.number], 1)})
    if failures:
        lines = [
            f"  {points[number - 1].output.name} {points[number - 1].chosen}: {error}"
            for number, error in sorted(failures.items())
        ]
        written = _write_partial(out, rows, lines)
        raise SweepError(
            f"{len(failures)} of {len(points)} runs of {notebook.name} failed, so sweep.csv "
            f"was not written; written instead: {', '.join(str(p) for p in written) or 'nothing'}"
            " (the runs that worked are kept, and a rerun skips them):\n" + "\n".join(lines)
        )
    table = pd.DataFrame(rows)
    from .checkpoints import atomic_write

    with atomic_write(out / "sweep.csv") as handle:
        handle.write(table.to_csv(index=False).encode("utf-8"))
    if _ours(out):  # an earlier failed sweep's own files, now out of date
        for stale in ("sweep.partial.csv", "failures.txt"):
            (out / stale).unlink(missing_ok=True)
    return table


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word: a string


def _assignments(items: Sequence[str], many: bool) -> dict[str, Any]:
    option = "--grid" if many else "--set"
    parsed = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{option}: expected NAME=VALUE, got {item!r}")
        if key in parsed:  # a second --grid x=... would silently replace the first
            raise SystemExit(
                f"{option}: {key} is given twice; give its values once ({key}=V1,V2,...)"
            )
        parsed[key] = [_value(v) for v in text.split(",")] if many else _value(text)
    return parsed


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m noise2image.sweeps NOTEBOOK --grid NAME=V1,V2 ... [--set NAME=V]``
    ``[--workers N | --scheduler tcp://HOST:PORT] [--threads-per-run T]``."""
    import argparse
    import sys

    from .profiles import ParameterError

    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m noise2image.sweeps")
    parser.add_argument("notebook")
    parser.add_argument("--grid", action="append", default=[], help="NAME=V1,V2,... (repeat)")
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE fixed for all")
    parser.add_argument("--out", default="_build/sweep", help="folder for the executed copies")
    parser.add_argument("--name", default="metrics", help="what the notebook recorded")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="run on a local Dask cluster of N workers")
    where.add_argument("--scheduler", help="run on the Dask cluster at tcp://HOST:PORT")
    parser.add_argument("--threads-per-run", type=int, help="compute threads of each kernel")
    parser.add_argument("--retries", type=int, default=2, help="retries of a run whose kernel "
                        "or worker died (a failing cell is never retried)")  # fmt: skip
    args = parser.parse_args(argv)
    grid, fixed = _assignments(args.grid, many=True), _assignments(args.set, many=False)
    both = sorted(set(grid) & set(fixed))
    if both:
        parser.error(f"{', '.join(both)} given in both --grid and --set; give each name once")
    try:
        table = sweep(
            args.notebook,
            grid,
            args.out,
            fixed,
            name=args.name,
            workers=args.workers,
            scheduler=args.scheduler,
            threads_per_run=args.threads_per_run,
            retries=args.retries,
        )
    except (ParameterError, RuntimeError, ImportError) as error:  # a bad name, failed runs,
        print(f"{type(error).__name__}: {error}")  # another environment, no distributed
        return 2 if isinstance(error, ParameterError) else 1
    print(table.to_string(index=False))
    print(f"written to {Path(args.out) / 'sweep.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
