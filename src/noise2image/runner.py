"""Run chapters as an instructor or a test does: papermill with parameters, measured.

>>> from noise2image.runner import run_notebook
>>> result = run_notebook("notebooks/01_data.ipynb", "out/01_data.ipynb", {"profile": "smoke"})
>>> result.seconds, result.peak_mib

The same function backs the test suite (every chapter under ``profile="smoke"``) and the
benchmark script (every chapter under both profiles).

A sweep runs one chapter over a grid of parameters and gathers what each run recorded
(with :func:`record`) into one table:

>>> from noise2image.runner import sweep
>>> table = sweep("notebooks/experiments/regression_run.ipynb",
...               {"sharpen_weight": [0, 0.1], "lr": [1e-3, 1e-4]},
...               out="_build/sweep", parameters={"profile": "smoke"})

or from a shell: ``python -m noise2image.runner sweep NOTEBOOK --grid lr=1e-3,1e-4 ...``.
One after another by default; ``workers=N`` (``--workers N``) runs the grid on a local
Dask cluster, ``scheduler=`` / ``client=`` on an existing one (:mod:`noise2image.cluster`,
``pip install 'noise2image[cluster]'``).
"""

from __future__ import annotations

import ast
import itertools
import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "RunResult",
    "run_notebook",
    "chapters",
    "glue",
    "record",
    "recorded",
    "expected_file",
    "compare_records",
    "check_records",
    "SweepPoint",
    "SweepError",
    "sweep_points",
    "sweep",
]

# the output format of myst-nb's glue (and scrapbook): the book build hides these outputs
RECORD_PREFIX = "application/papermill.record/"
_RECORD_MIME = RECORD_PREFIX + "text/plain"  # the value as a JSON string

ROOT = Path(__file__).resolve().parents[2]


def chapters(folder: str | Path | None = None) -> list[Path]:
    """The chapter notebooks, in order (``notebooks/NN_*.ipynb``)."""
    folder = Path(folder) if folder else ROOT / "notebooks"
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


@dataclass(frozen=True)
class RunResult:
    """What one papermill run took."""

    notebook: str
    output: str
    parameters: dict[str, Any]
    seconds: float
    peak_mib: float


class _PeakMemory:
    """Samples the resident memory of this process's children (the kernel) in a thread."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_notebook(
    notebook: str | Path,
    output: str | Path,
    parameters: dict[str, Any] | None = None,
    timeout: int = 1800,
    progress: bool = False,
    threads: int | None = None,
) -> RunResult:
    """Execute ``notebook`` with papermill into ``output`` and measure time and peak memory.

    The kernel runs in the notebook's own folder; with ``threads`` its torch (and BLAS)
    thread count is set through its environment (``OMP_NUM_THREADS`` ...), else it
    inherits this process's. Raises papermill's ``PapermillExecutionError`` (with the
    failing cell) if a cell fails.
    """
    import papermill

    notebook, output = Path(notebook), Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    parameters = dict(parameters or {})
    extra = {} if threads is None else {"kernel_manager_class": _kernel_manager(threads)}
    start = time.perf_counter()
    with _PeakMemory() as memory:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(notebook.parent),
            execution_timeout=timeout,
            progress_bar=progress,
            **extra,
        )
    return RunResult(
        notebook=notebook.name,
        output=str(output),
        parameters=parameters,
        seconds=time.perf_counter() - start,
        peak_mib=memory.peak / 2**20,
    )


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _kernel_manager(threads: int):
    """nbclient's kernel manager, starting each kernel with ``threads`` compute threads."""
    import os

    from jupyter_client.manager import AsyncKernelManager

    from .profiles import check_int

    check_int("threads", threads, minimum=1)
    variables = dict.fromkeys(THREAD_VARIABLES, str(threads))

    class ThreadedKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw):
            kw["env"] = {**kw.get("env", os.environ), **variables}
            return await super()._async_pre_start_kernel(**kw)

    return ThreadedKernelManager


def _plain(value: Any) -> Any:
    """A number or word as plain Python (numpy and torch scalars included)."""
    if value is None or isinstance(value, str):
        return value
    for kind in (bool, int, float):  # numpy's float64 is a float, but its repr is not plain
        if isinstance(value, kind):
            return kind(value)
    if hasattr(value, "item"):  # numpy or torch scalar
        return _plain(value.item())
    raise TypeError(f"glue a number or a word, not {type(value).__name__}")


def glue(name: str, value: Any) -> None:
    """Glue one number or word of the running notebook for its prose (shown nowhere else).

    A markdown cell shows it with myst-nb's role: ``{glue:text}`name:.1f``` (a format
    specification after the colon). The value is also recorded (:func:`recorded`), so the
    tests compare it with the expected numbers kept in ``tests/expected``. Verdicts are
    glued as words computed by the cell (``"held"``, ``"lower"``), never typed in prose.
    """
    from IPython.display import display

    value = _plain(value)
    metadata = {"scrapbook": {"name": name, "mime_prefix": RECORD_PREFIX}}
    display({_RECORD_MIME: repr(value)}, raw=True, metadata=metadata)


def record(name: str, value: Mapping[str, Any]) -> None:
    """Record ``value`` (a dict of JSON-able numbers and strings) in the running notebook's
    output under ``name``, invisibly, for :func:`recorded` and :func:`sweep` to read back.

    It uses myst-nb's glue format, so the book neither shows it nor warns about it.
    """
    from IPython.display import display

    text = json.dumps(dict(value))  # fails here, not in the reader, if it is not JSON-able
    metadata = {"scrapbook": {"name": name, "mime_prefix": RECORD_PREFIX}}
    display({_RECORD_MIME: text}, raw=True, metadata=metadata)


def _parse(text: str | list[str]) -> Any:
    text = "".join(text) if isinstance(text, list) else text
    try:
        return json.loads(text)
    except json.JSONDecodeError:  # a glued word: Python's repr
        return ast.literal_eval(text)


def recorded(notebook: str | Path) -> dict[str, Any]:
    """Everything an executed notebook recorded with :func:`record` or :func:`glue`, by name.

    Papermill keeps the records in the notebook's outputs; a book build (myst-nb) moves them
    to ``STEM.glue.json`` beside the executed notebook, which is read too.
    """
    import nbformat

    notebook = Path(notebook)
    found: dict[str, Any] = {}
    for cell in nbformat.read(str(notebook), as_version=4).cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None and _RECORD_MIME in output.get("data", {}):
                found[name] = _parse(output["data"][_RECORD_MIME])
    glued = notebook.with_name(f"{notebook.stem}.glue.json")
    if glued.exists():
        for name, output in json.loads(glued.read_text()).items():
            data = output.get("data", {})
            text = data.get(_RECORD_MIME, data.get("text/plain"))
            if text is not None and name not in found:
                found[name] = _parse(text)
    return found


# ----------------------------------------------------------------------------- expected numbers

EXPECTED = ROOT / "tests" / "expected"
TOLERANCE = {"relative": 0.02, "absolute": 0.002}
"""Seeded runs on this CPU and torch build reproduce every number to the digit; the
tolerance covers other CPUs and torch builds, whose float sums can differ in the last bits
and grow a little through training."""


def expected_file(notebook: str | Path, profile: str, folder: str | Path | None = None) -> Path:
    """``tests/expected/STEM.PROFILE.json``: the numbers a chapter must reproduce."""
    return Path(folder or EXPECTED) / f"{Path(notebook).stem}.{profile}.json"


def _flat(records: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``, at any depth; timings (``seconds``) left out:
    they are measured, not reproduced, so they are never expected numbers."""
    flat = {}
    for name, value in records.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{name}."))
        elif not str(name).endswith("seconds"):
            flat[f"{prefix}{name}"] = value
    return flat


def compare_records(
    measured: Mapping[str, Any], expected: Mapping[str, Any], chapter: str = ""
) -> list[str]:
    """Every way ``measured`` (a notebook's :func:`recorded`) differs from ``expected``
    (an expected file's contents), one sentence each naming the number, the expected and
    the measured value and the chapter. Numbers may differ by the file's tolerance."""
    tolerance = {**TOLERANCE, **expected.get("tolerance", {})}
    got, want = _flat(measured), expected["values"]
    problems = []
    for name, value in want.items():
        if name not in got:
            problems.append(f"{chapter}: {name} was not recorded (expected {value!r})")
            continue
        actual = got[name]
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in (value, actual)
        )
        if numbers:
            allowed = tolerance["absolute"] + tolerance["relative"] * abs(value)
            if abs(actual - value) > allowed:
                problems.append(
                    f"{chapter}: {name} = {actual!r}, expected {value!r} (± {allowed:.3g})"
                )
        elif actual != value:
            problems.append(f"{chapter}: {name} = {actual!r}, expected {value!r}")
    problems += [
        f"{chapter}: {name} is recorded but not expected" for name in got if name not in want
    ]
    return problems


def check_records(
    folder: str | Path, profile: str, write: bool = False, expected: str | Path | None = None
) -> list[str]:
    """Compare every executed chapter in ``folder`` with its expected file; with ``write``,
    (re)write the expected files from the executed chapters instead (a deliberate change
    of a number is then a visible diff of the file)."""
    problems = []
    for executed in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        path = expected_file(executed, profile, expected)
        measured = recorded(executed)
        if write:
            path.parent.mkdir(parents=True, exist_ok=True)
            contents = {"tolerance": TOLERANCE, "values": _flat(measured)}
            path.write_text(json.dumps(contents, indent=1, ensure_ascii=False) + "\n")
        elif not path.exists():
            problems.append(f"{executed.stem}: no expected numbers in {path}")
        else:
            problems += compare_records(measured, json.loads(path.read_text()), executed.stem)
    return problems


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

    from .instructors import parameters as notebook_parameters
    from .profiles import ParameterError

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


def _finished(point: SweepPoint, name: str) -> float | None:
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


def _mark_done(point: SweepPoint, executed: str | dict, seconds: float) -> None:
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


def _run_serially(notebook, points, name, threads, bar, failures) -> dict[int, float]:
    import papermill

    seconds = {}
    for point in points:
        try:
            result = run_notebook(notebook, point.output, point.parameters, threads=threads)
        except papermill.PapermillExecutionError as error:
            failures[point.number] = f"{error.ename}: {error.evalue}"
        else:
            _mark_done(point, point.output.read_text("utf-8"), result.seconds)
            seconds[point.number] = result.seconds
        bar.update()
    return seconds


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
    If any run failed, no table is written and :class:`SweepError` lists the failures.
    """
    import pandas as pd

    from .progress import progress_bar

    notebook, out = Path(notebook), Path(out)
    points = sweep_points(notebook, grid, out, parameters, threads_per_run)
    seconds = {p.number: s for p in points if (s := _finished(p, name)) is not None}
    todo = [point for point in points if point.number not in seconds]
    failures: dict[int, str] = {}
    cluster = workers is not None or scheduler is not None or client is not None
    with progress_bar(total=len(points), desc="sweep", disable=not progress) as bar:
        bar.update(len(seconds))
        if todo and cluster:
            from .cluster import run_points

            seconds |= run_points(
                notebook, todo, bar, failures, workers=workers, scheduler=scheduler,
                client=client, threads=threads_per_run, retries=retries,
            )  # fmt: skip
        elif todo:
            seconds |= _run_serially(notebook, todo, name, threads_per_run, bar, failures)
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
        raise SweepError(
            f"{len(failures)} of {len(points)} runs of {notebook.name} failed, so no table "
            "was written (the runs that worked are kept, and a rerun skips them):\n"
            + "\n".join(lines)
        )
    table = pd.DataFrame(rows)
    table.to_csv(out / "sweep.csv", index=False)
    return table


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word: a string


def _assignments(items: Sequence[str], many: bool) -> dict[str, Any]:
    parsed = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"expected NAME=VALUE, got {item!r}")
        parsed[key] = [_value(v) for v in text.split(",")] if many else _value(text)
    return parsed


def sweep_main(argv: Sequence[str]) -> int:
    """``python -m noise2image.runner sweep NOTEBOOK --grid NAME=V1,V2 ... [--set NAME=V]``
    ``[--workers N | --scheduler tcp://HOST:PORT] [--threads-per-run T]``."""
    import argparse

    from .profiles import ParameterError

    parser = argparse.ArgumentParser(prog="python -m noise2image.runner sweep")
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
    try:
        table = sweep(
            args.notebook,
            _assignments(args.grid, many=True),
            args.out,
            _assignments(args.set, many=False),
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


def check_main(argv: Sequence[str]) -> int:
    """``python -m noise2image.runner check FOLDER --profile full [--write]``."""
    import argparse

    from .profiles import PROFILES

    parser = argparse.ArgumentParser(prog="python -m noise2image.runner check")
    parser.add_argument("folder", help="executed chapters (e.g. _build/smoke/notebooks)")
    parser.add_argument("--profile", choices=PROFILES, required=True)
    parser.add_argument("--write", action="store_true", help="write the expected files")
    args = parser.parse_args(argv)
    if not list(Path(args.folder).glob("[0-9][0-9]_*.ipynb")):
        print(f"no executed chapters in {args.folder}")
        return 2
    problems = check_records(args.folder, args.profile, write=args.write)
    for problem in problems:
        print(problem)
    verb = "written" if args.write else "checked"
    print(f"expected numbers {verb} for {args.folder} ({args.profile}): {len(problems)} problems")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m noise2image.runner --profile smoke --out _build/smoke``: run every chapter.

    ``python -m noise2image.runner sweep ...`` runs one chapter over a grid (:func:`sweep`).
    """
    import argparse
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sweep"]:
        return sweep_main(argv[1:])
    if argv[:1] == ["check"]:
        return check_main(argv[1:])

    from .profiles import PROFILES

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--profile", choices=PROFILES, default="smoke")
    parser.add_argument("--out", default="_build/smoke", help="folder for executed notebooks")
    parser.add_argument("notebooks", nargs="*", help="chapters to run (default: all)")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or chapters()
    for path in paths:
        result = run_notebook(
            path, Path(args.out) / "notebooks" / path.name, {"profile": args.profile}
        )
        print(
            f"{result.notebook:<32} {args.profile:<6} {result.seconds:7.1f} s "
            f"{result.peak_mib:8.0f} MiB peak",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
