"""Sweeps on a Dask cluster: the same runs as :func:`noise2image.sweeps.sweep`, many at once.

Needs the optional extra ``pip install 'noise2image[cluster]'`` (Dask's ``distributed``);
nothing else in the course imports this module, so a serial sweep needs nothing new.

* ``workers=N`` starts a ``LocalCluster`` of N single-threaded worker processes on this
  machine (dashboard off); ``scheduler="tcp://HOST:PORT"`` connects to a running cluster
  (SLURM through dask-jobqueue, Kubernetes, a cloud service: ``book/sweeps.md``);
  ``client=`` takes a ``distributed.Client`` you made.
* Before anything runs, every worker must have this machine's ``noise2image``,
  ``papermill`` and ``torch`` versions (:func:`check_versions`).
* Each run is one task with the run's stable key: it gets the notebook's text and returns
  the executed notebook, which this process writes to ``out`` as each finishes, so no disk
  is shared. A cell that raises is a result (reported, not retried: it would fail again);
  a kernel or a worker that dies is retried (``retries``; the scheduler also moves the
  tasks of a lost worker to the others).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

try:
    import distributed
except ImportError as missing:  # pragma: no cover - the message is the point
    raise ImportError(
        "sweeps on a cluster need Dask's distributed: pip install 'noise2image[cluster]' "
        "(without --workers, --scheduler or client= a sweep runs here, one run at a time)"
    ) from missing

__all__ = ["VERSIONED", "versions", "check_versions", "connect", "run_point", "run_points"]

VERSIONED = ("noise2image", "papermill", "torch")
"""The packages whose versions decide a run's numbers and how it runs."""


def versions() -> dict[str, str]:
    """This process's versions of :data:`VERSIONED` (``"missing"`` when not installed)."""
    found = {}
    for package in VERSIONED:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "missing"
    return found


def check_versions(client: distributed.Client, here: dict[str, str] | None = None) -> None:
    """Stop unless every worker has ``here`` (this machine's :func:`versions`)."""
    here = versions() if here is None else here
    problems = []
    for worker, theirs in sorted(client.run(versions).items()):
        for package, version in here.items():
            if theirs.get(package) != version:
                problems.append(
                    f"{package}: {theirs.get(package)} on worker {worker}, {version} here"
                )
    if problems:
        raise RuntimeError(
            "the cluster's workers do not run this machine's course environment, so a run "
            "there could give other numbers:\n  " + "\n  ".join(problems) + "\n"
            "Give the workers the same environment (book/sweeps.md), then run again."
        )


def connect(
    workers: int | None = None,
    scheduler: str | None = None,
    client: distributed.Client | None = None,
) -> tuple[distributed.Client, Callable[[], None]]:
    """A client for one of the three ways (exactly one given), and how to let it go."""
    from .profiles import ParameterError, check_int

    given = [name for name, v in [("workers", workers), ("scheduler", scheduler),
                                  ("client", client)] if v is not None]  # fmt: skip
    if len(given) != 1:
        raise ParameterError(f"give one of workers, scheduler or client, not {given or 'none'}")
    if client is not None:
        return client, lambda: None
    if scheduler is not None:
        if not str(scheduler).startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise ParameterError(f"scheduler={scheduler!r} is not an address like tcp://HOST:PORT")
        made = distributed.Client(scheduler, timeout="20s")
        try:
            made.wait_for_workers(1, timeout=120)
        except TimeoutError as error:
            made.close()
            message = f"the scheduler at {scheduler} has had no worker for 2 minutes"
            raise RuntimeError(message) from error
        return made, made.close
    check_int("workers", workers, minimum=1)
    # Dask's nanny writes its workers' settings (OMP_NUM_THREADS=1 ...) into this process's
    # environment before it starts them, and leaves them there: every kernel this process
    # starts afterwards (a serial sweep, a test's notebook) would run on one thread.
    before = dict(os.environ)
    cluster = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    made = distributed.Client(cluster)
    _restore(before)

    def close():
        made.close()
        cluster.close()
        _restore(before)  # again: a worker restarted after a crash wrote them again

    return made, close


def _restore(environment: dict[str, str]) -> None:
    for name in set(os.environ) - set(environment):
        del os.environ[name]
    os.environ.update(environment)


def run_point(
    notebook_name: str, notebook_text: str, parameters: dict[str, Any], threads: int | None
) -> dict[str, Any]:
    """One run, on a worker: the notebook's text in, the executed notebook out.

    A failing cell comes back as ``{"error": ...}`` (retrying would fail the same way);
    a dead kernel raises, so the scheduler runs the task again."""
    import papermill

    from .runner import run_notebook

    with tempfile.TemporaryDirectory(prefix="noise2image-run-") as folder:
        source = Path(folder) / notebook_name
        source.write_text(notebook_text, "utf-8")
        output = Path(folder) / f"executed-{notebook_name}"
        try:
            result = run_notebook(source, output, parameters, threads=threads)
        except papermill.PapermillExecutionError as error:
            return {"error": f"{error.ename}: {error.evalue}"}
        return {"notebook": output.read_text("utf-8"), "seconds": result.seconds}


def run_points(
    notebook: Path,
    points: Sequence,
    bar,
    failures: dict[int, str],
    *,
    done: Callable,
    workers: int | None = None,
    scheduler: str | None = None,
    client: distributed.Client | None = None,
    threads: int | None = None,
    retries: int = 2,
) -> dict[int, float]:
    """Run ``points`` (:class:`noise2image.sweeps.SweepPoint`) on the cluster; hand each
    executed notebook to ``done(point, notebook_text, seconds)`` as it comes back (the
    sweep writes it); return the seconds of each run that worked and add the others to
    ``failures``."""

    client, close = connect(workers, scheduler, client)
    try:
        check_versions(client)
        text = notebook.read_text("utf-8")
        futures = {
            client.submit(
                run_point, notebook.name, text, point.parameters, threads,
                key=point.key, retries=retries, pure=False,
            ): point
            for point in points
        }  # fmt: skip
        seconds = {}
        for future in distributed.as_completed(futures):
            point = futures[future]
            try:
                result = future.result()
            except Exception as error:  # a lost worker after every retry, a dead kernel
                failures[point.number] = f"{type(error).__name__}: {error}"
            else:
                if "error" in result:
                    failures[point.number] = result["error"]
                else:
                    done(point, result["notebook"], result["seconds"])
                    seconds[point.number] = result["seconds"]
            bar.update()
        return seconds
    finally:
        close()
