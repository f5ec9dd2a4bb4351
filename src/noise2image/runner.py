"""Run chapters as an instructor or a test does: papermill with parameters, measured.

>>> from noise2image.runner import run_notebook
>>> result = run_notebook("notebooks/01_data.ipynb", "out/01_data.ipynb", {"profile": "smoke"})
>>> result.seconds, result.peak_mib

The same function backs the test suite (every chapter under ``profile="smoke"``) and the
benchmark script (every chapter under both profiles).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RunResult", "run_notebook", "chapters"]

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


def main(argv: list[str] | None = None) -> int:
    """``python -m noise2image.runner --profile smoke --out _build/smoke``: run every chapter."""
    import argparse

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
