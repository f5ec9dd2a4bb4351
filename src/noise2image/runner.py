"""Run chapters as an instructor or a test does: papermill with parameters, measured.

>>> from noise2image.runner import run_notebook
>>> result = run_notebook("notebooks/01_data.ipynb", "out/01_data.ipynb", {"profile": "smoke"})
>>> result.seconds, result.peak_mib

The same function backs the test suite (every chapter under ``profile="smoke"``) and the
benchmark script (every chapter under both profiles).

A sweep runs one chapter over a grid of parameters and gathers what each run recorded
(with :func:`record`) into one table:

>>> from noise2image.runner import sweep
>>> table = sweep("notebooks/06_sharpening_loss.ipynb",
...               {"sharpen_weight": [0, 0.1], "lr": [1e-3, 1e-4]},
...               out="_build/sweep", parameters={"profile": "smoke", "ablation": False})

or from a shell: ``python -m noise2image.runner sweep NOTEBOOK --grid lr=1e-3,1e-4 ...``.
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
) -> RunResult:
    """Execute ``notebook`` with papermill into ``output`` and measure time and peak memory.

    The kernel runs in the notebook's own folder. Raises papermill's
    ``PapermillExecutionError`` (with the failing cell) if a cell fails.
    """
    import papermill

    notebook, output = Path(notebook), Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    parameters = dict(parameters or {})
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
        )
    return RunResult(
        notebook=notebook.name,
        output=str(output),
        parameters=parameters,
        seconds=time.perf_counter() - start,
        peak_mib=memory.peak / 2**20,
    )


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


def sweep(
    notebook: str | Path,
    grid: Mapping[str, Sequence[Any]],
    out: str | Path,
    parameters: Mapping[str, Any] | None = None,
    name: str = "metrics",
    progress: bool = True,
):
    """Run ``notebook`` once per combination of the values in ``grid`` (plus the fixed
    ``parameters``) and gather what each run recorded under ``name`` into one table.

    Each executed copy is kept in ``out`` (``NAME-001.ipynb``, ...), the table is written
    to ``out/sweep.csv`` and returned as a DataFrame: one row per run, the grid's
    parameters first, then the recorded numbers and the run's seconds.
    """
    import pandas as pd

    from .progress import progress_bar

    if not grid or any(len(values) == 0 for values in grid.values()):
        raise ValueError("the grid needs at least one parameter with at least one value")
    notebook, out = Path(notebook), Path(out)
    keys = list(grid)
    combinations = list(itertools.product(*(grid[key] for key in keys)))
    rows = []
    for number, values in enumerate(
        progress_bar(combinations, desc="sweep", disable=not progress), 1
    ):
        chosen = dict(zip(keys, values, strict=True))
        output = out / f"{notebook.stem}-{number:03d}.ipynb"
        result = run_notebook(notebook, output, {**dict(parameters or {}), **chosen})
        found = recorded(output)
        if name not in found:
            raise KeyError(f"{output} recorded no {name!r} (it recorded {sorted(found)})")
        rows.append({**chosen, **found[name], "seconds": round(result.seconds, 1)})
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
    """``python -m noise2image.runner sweep NOTEBOOK --grid NAME=V1,V2 ... [--set NAME=V]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m noise2image.runner sweep")
    parser.add_argument("notebook")
    parser.add_argument("--grid", action="append", default=[], help="NAME=V1,V2,... (repeat)")
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE fixed for all")
    parser.add_argument("--out", default="_build/sweep", help="folder for the executed copies")
    parser.add_argument("--name", default="metrics", help="what the notebook recorded")
    args = parser.parse_args(argv)
    table = sweep(
        args.notebook,
        _assignments(args.grid, many=True),
        args.out,
        _assignments(args.set, many=False),
        name=args.name,
    )
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
