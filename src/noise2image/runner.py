"""Run chapters as an instructor or a test does: papermill with parameters, measured.

>>> from noise2image.runner import run_notebook
>>> result = run_notebook("notebooks/01_data.ipynb", "out/01_data.ipynb", {"profile": "smoke"})
>>> result.seconds, result.peak_mib

The same function backs the course's tests (every chapter under ``profile="smoke"``), its
benchmarks and sweeps (:mod:`noise2image.sweeps`). ``python -m noise2image.runner
--profile smoke --out DIR`` runs every chapter of ``./notebooks``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RunResult", "run_notebook", "chapters", "parameters"]

def chapters(folder: str | Path = "notebooks") -> list[Path]:
    """The chapter notebooks in ``folder``, in order (``NN_*.ipynb``); by default those of
    ``./notebooks`` (a checkout of the course, run from its root)."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))


def parameters(notebook: str | Path) -> list[dict[str, str]]:
    """The notebook's ``parameters`` cell as papermill reads it: ``name``, ``default`` and
    ``help`` (the comment after the value), in the cell's order."""
    import papermill

    found = papermill.inspect_notebook(str(notebook))
    if not found:
        raise ValueError(f"{Path(notebook).name} has no cell tagged 'parameters'")
    return [
        {"name": name, "default": entry["default"], "help": entry["help"]}
        for name, entry in found.items()
    ]


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


def main(argv: list[str] | None = None) -> int:
    """``python -m noise2image.runner --profile smoke --out _build/smoke``: run every chapter."""
    import argparse
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sweep"]:  # sweeps have their own module, above this one
        print("sweeps run with `python -m noise2image.sweeps NOTEBOOK --grid NAME=V1,V2 ...`")
        return 2
    if argv[:1] == ["check"]:  # the expected numbers are the repository's, not the package's
        print("the expected-number check is a tool of the course's repository: run "
              "`python -m tools.expected check FOLDER --profile P` from a checkout's root")
        return 2

    from .profiles import PROFILES

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--profile", choices=PROFILES, default="smoke")
    parser.add_argument("--out", default="_build/smoke", help="folder for executed notebooks")
    parser.add_argument("notebooks", nargs="*", help="chapters to run (default: ./notebooks)")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or chapters()
    if not paths:
        print("no chapters given and none in ./notebooks (run from the course's root)")
        return 2
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
