"""Sweeps on a Dask cluster: the same table as the serial sweep, no run lost or counted
twice when a worker dies, resumed reruns, and refusals before anything runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pandas as pd
import pytest

from noise2image import sweeps
from noise2image.profiles import ParameterError
from tools import ROOT

distributed = pytest.importorskip("distributed", reason="pip install 'noise2image[cluster]'")

EXPERIMENT = ROOT / "notebooks" / "experiments" / "regression_run.ipynb"


@pytest.fixture(autouse=True)
def environment_kept():
    """A LocalCluster made here writes OMP_NUM_THREADS=1 ... into this process's
    environment (Dask's nanny does): put it back, or every later kernel of the test run
    (the notebooks nbval re-runs) would compute on one thread and differ in last digits."""
    before = dict(os.environ)
    yield
    from noise2image.cluster import _restore

    _restore(before)


def notebook(tmp_path, code: str, parameters: str = "x = 2\nlog = ''\nmarker = ''"):
    """A tiny notebook: ``parameters`` then ``code``; every run appends its ``x`` to the
    file ``log`` (absolute: a run on a worker executes in a folder of its own)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import pathlib\nif log:\n    with open(log, 'a') as f:\n        f.write(f'{x}\\n')"
        ),
        nbformat.v4.new_code_cell(code),
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kernelspec"] = kernel
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


RECORD = "from noise2image.records import record\nrecord('metrics', {'double': 2 * x})"


def runs(log) -> list[int]:
    return sorted(int(line) for line in log.read_text().split())


def test_the_same_grid_gives_the_same_table_serially_and_on_two_workers(tmp_path):
    grid = {"sharpen_weight": [0.0, 1.0], "lr": [1e-3, 1e-4]}
    settings = dict(parameters={"profile": "smoke"}, progress=False, threads_per_run=1)
    serial = sweeps.sweep(EXPERIMENT, grid, tmp_path / "serial", **settings)
    before = dict(os.environ)
    parallel = sweeps.sweep(EXPERIMENT, grid, tmp_path / "cluster", workers=2, **settings)
    assert dict(os.environ) == before, "the local cluster changed this process's environment"
    assert list(serial.columns[:2]) == ["sharpen_weight", "lr"]
    assert {"clarity", "FID", "recognisable", "train_seconds", "seconds"} <= set(serial.columns)
    assert list(zip(serial["sharpen_weight"], serial["lr"], strict=True)) == [
        (0.0, 1e-3), (0.0, 1e-4), (1.0, 1e-3), (1.0, 1e-4),
    ]  # fmt: skip
    assert serial["FID"].nunique() == 4, "each run is a different training"
    timings = ["seconds", "train_seconds"]
    pd.testing.assert_frame_equal(serial.drop(columns=timings), parallel.drop(columns=timings))
    for folder in ("serial", "cluster"):
        assert (tmp_path / folder / "sweep.csv").exists()
        assert len(list((tmp_path / folder).glob("regression_run-*.ipynb"))) == 4


def test_a_worker_killed_mid_run_loses_no_run_and_counts_none_twice(tmp_path):
    """The run x=2 kills its own worker process once (the kernel's parent); the scheduler
    gives the run to a worker again. Then a rerun with one copy deleted runs only that."""
    log, marker = tmp_path / "runs.log", tmp_path / "killed"
    code = (
        "import os, signal\n"
        "if x == 2 and not pathlib.Path(marker).exists():\n"
        "    pathlib.Path(marker).write_text('once')\n"
        "    os.kill(os.getppid(), signal.SIGKILL)\n" + RECORD
    )
    source = notebook(tmp_path, code)
    fixed = {"log": str(log), "marker": str(marker)}
    out = tmp_path / "out"
    table = sweeps.sweep(source, {"x": [1, 2, 3, 4]}, out, fixed, workers=2, progress=False)
    assert marker.exists(), "the worker was never killed"
    assert table["x"].tolist() == [1, 2, 3, 4] and table["double"].tolist() == [2, 4, 6, 8]
    written = sorted(p.name for p in out.glob("*.ipynb"))
    assert written == [f"tiny-00{i}.ipynb" for i in (1, 2, 3, 4)]
    assert runs(log).count(1) == runs(log).count(3) == runs(log).count(4) == 1
    assert runs(log).count(2) == 2  # started on the killed worker, then run once more
    # resume: only the deleted point runs again, on the cluster as serially
    (out / "tiny-003.ipynb").unlink()
    log.write_text("")
    again = sweeps.sweep(source, {"x": [1, 2, 3, 4]}, out, fixed, workers=2, progress=False)
    assert runs(log) == [3]
    pd.testing.assert_frame_equal(again.drop(columns="seconds"), table.drop(columns="seconds"))


def test_a_rerun_resumes_serially_and_a_changed_notebook_runs_again(tmp_path):
    log = tmp_path / "runs.log"
    source = notebook(tmp_path, RECORD)
    out, fixed = tmp_path / "out", {"log": str(log)}
    sweeps.sweep(source, {"x": [1, 2, 3]}, out, fixed, progress=False)
    assert runs(log) == [1, 2, 3]
    (out / "tiny-002.ipynb").unlink()
    sweeps.sweep(source, {"x": [1, 2, 3]}, out, fixed, progress=False)
    assert runs(log) == [1, 2, 2, 3]
    # the same parameters but another notebook, or another thread count: not the same run
    notebook(tmp_path, RECORD + "\nrecord('other', {'a': 1})")
    sweeps.sweep(source, {"x": [1]}, out, fixed, progress=False)
    sweeps.sweep(source, {"x": [1]}, out, fixed, progress=False, threads_per_run=1)
    assert runs(log) == [1, 1, 1, 2, 2, 3]


def test_a_failing_cell_is_reported_not_retried_and_no_table_is_written(tmp_path):
    log = tmp_path / "runs.log"
    code = "if x == 3:\n    raise ValueError('x=3 is not allowed here')\n" + RECORD
    source = notebook(tmp_path, code)
    out = tmp_path / "out"
    with pytest.raises(sweeps.SweepError) as failed:
        sweeps.sweep(source, {"x": [1, 2, 3]}, out, {"log": str(log)}, workers=2, progress=False)
    message = str(failed.value)
    assert "1 of 3 runs of tiny.ipynb failed" in message
    assert "tiny-003.ipynb {'x': 3}: ValueError: x=3 is not allowed here" in message
    assert runs(log) == [1, 2, 3], "a failing cell is not retried"
    assert not (out / "sweep.csv").exists()
    assert (out / "tiny-001.ipynb").exists() and (out / "tiny-002.ipynb").exists()


def test_threads_per_run_sets_the_kernel_threads_on_every_path(tmp_path):
    code = (
        "import torch\nfrom noise2image.records import record\n"
        "record('metrics', {'threads': torch.get_num_threads()})"
    )
    source = notebook(tmp_path, code)
    serial = sweeps.sweep(source, {"x": [1]}, tmp_path / "a", threads_per_run=1, progress=False)
    parallel = sweeps.sweep(
        source, {"x": [1, 2]}, tmp_path / "b", workers=2, threads_per_run=2, progress=False
    )
    assert serial["threads"].tolist() == [1] and parallel["threads"].tolist() == [2, 2]


def test_unknown_parameter_names_are_refused_before_anything_runs(tmp_path):
    with pytest.raises(ParameterError) as typo:
        sweeps.sweep(EXPERIMENT, {"lrr": [1e-3]}, tmp_path / "a", workers=2)
    assert "regression_run.ipynb has no parameter 'lrr'; its parameters are: profile" in str(
        typo.value
    )
    assert "sharpen_weight" in str(typo.value)
    with pytest.raises(ParameterError, match="no parameter 'profil'"):
        sweeps.sweep(EXPERIMENT, {"lr": [1e-3]}, tmp_path / "b", {"profil": "smoke"})
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    done = subprocess.run(
        [sys.executable, "-m", "noise2image.sweeps", str(EXPERIMENT), "--grid",
         "lrr=1e-3", "--out", str(tmp_path / "c")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2 and "has no parameter 'lrr'" in done.stdout


def test_a_version_mismatch_is_refused_naming_the_package(tmp_path, monkeypatch):
    from noise2image import cluster

    real = cluster.metadata.version

    class Other:
        PackageNotFoundError = cluster.metadata.PackageNotFoundError

        @staticmethod
        def version(package):  # this (client) process only: the workers ask the real one
            return "0.0.1" if package == "torch" else real(package)

    source = notebook(tmp_path, RECORD)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, dashboard_address=None
        ) as local,
        distributed.Client(local) as client,
    ):
        cluster.check_versions(client)  # the same environment passes
        monkeypatch.setattr(cluster, "metadata", Other)
        with pytest.raises(RuntimeError) as refused:
            sweeps.sweep(source, {"x": [1]}, tmp_path / "out", client=client, progress=False)
    message = str(refused.value)
    assert "torch: " in message and "0.0.1 here" in message and "book/sweeps.md" in message
    assert not (tmp_path / "out").exists(), "nothing ran"


def test_without_a_flag_the_sweep_is_serial_and_never_imports_dask(tmp_path):
    """A stray DASK_SCHEDULER_ADDRESS does not send a student's sweep elsewhere."""
    source = notebook(tmp_path, RECORD)
    script = (
        "import sys\nfrom noise2image.sweeps import sweep\n"
        f"table = sweep({str(source)!r}, {{'x': [1, 2]}}, {str(tmp_path / 'out')!r},"
        " progress=False)\n"
        "print(table['double'].tolist(), 'distributed' in sys.modules)"
    )
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": "tcp://192.0.2.1:8786"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("[2, 4] False")


def test_the_command_line_runs_a_grid_on_local_workers(tmp_path):
    source = notebook(tmp_path, RECORD)
    done = subprocess.run(
        [sys.executable, "-m", "noise2image.sweeps", str(source), "--grid", "x=1,2,3",
         "--workers", "2", "--threads-per-run", "1", "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    table = pd.read_csv(tmp_path / "out" / "sweep.csv")
    assert table["x"].tolist() == [1, 2, 3] and table["double"].tolist() == [2, 4, 6]
    book = json.loads((tmp_path / "out" / "tiny-002.ipynb").read_text())
    assert book["metadata"]["papermill"]["parameters"] == {"x": 2}
    assert book["metadata"]["noise2image"]["sweep"]["key"].startswith("tiny-002-")


def test_a_running_cluster_is_reached_by_its_scheduler_address(tmp_path):
    source = notebook(tmp_path, RECORD)
    with pytest.raises(ParameterError, match="not an address like tcp://HOST:PORT"):
        sweeps.sweep(source, {"x": [1]}, tmp_path / "bad", scheduler="localhost:8786")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=None
    ) as local:
        table = sweeps.sweep(
            source, {"x": [1, 2]}, tmp_path / "out", scheduler=local.scheduler_address,
            progress=False,
        )  # fmt: skip
    assert table["double"].tolist() == [2, 4]
    with pytest.raises(ParameterError, match="one of workers, scheduler or client"):
        sweeps.sweep(source, {"x": [1]}, tmp_path / "two", workers=1, scheduler="tcp://x:1")


def test_a_dead_kernel_is_retried_reported_and_the_other_runs_still_run(tmp_path):
    # x=1 kills its kernel as MKL does on NaN (a segfault): the serial sweep retries it,
    # reports it, runs x=2, and writes the table of the runs that worked and the failures
    log = tmp_path / "runs.log"
    code = "import os, signal\nif x == 1:\n    os.kill(os.getpid(), signal.SIGSEGV)\n" + RECORD
    source = notebook(tmp_path, code)
    out = tmp_path / "out"
    with pytest.raises(sweeps.SweepError) as failed:
        sweeps.sweep(source, {"x": [1, 2]}, out, {"log": str(log)}, progress=False, retries=1)
    message = str(failed.value)
    assert "1 of 2 runs of tiny.ipynb failed" in message
    assert "tiny-001.ipynb {'x': 1}: DeadKernelError" in message and "tried 2 times" in message
    assert runs(log) == [1, 1, 2], "the dead run was tried twice, the other once"
    assert not (out / "sweep.csv").exists()
    assert pd.read_csv(out / "sweep.partial.csv")["double"].tolist() == [4]
    assert "tiny-001.ipynb {'x': 1}: DeadKernelError" in (out / "failures.txt").read_text()
    assert "sweep.partial.csv" in message and "failures.txt" in message


def test_a_full_disk_is_reported_with_the_path_and_the_other_runs_still_run(
    tmp_path, monkeypatch
):
    import errno

    real = sweeps.mark_done

    def full_disk(point, executed, seconds):
        if point.number == 1:
            raise OSError(errno.ENOSPC, "No space left on device", str(point.output))
        real(point, executed, seconds)

    monkeypatch.setattr(sweeps, "mark_done", full_disk)
    source = notebook(tmp_path, RECORD)
    out = tmp_path / "out"
    with pytest.raises(sweeps.SweepError) as failed:
        sweeps.sweep(source, {"x": [1, 2]}, out, progress=False)
    assert f"OSError writing {out / 'tiny-001.ipynb'}: No space left on device" in str(
        failed.value
    )
    assert pd.read_csv(out / "sweep.partial.csv")["double"].tolist() == [4]
    # the disk freed, a rerun runs the missing point, writes the table, drops the partial files
    monkeypatch.setattr(sweeps, "mark_done", real)
    table = sweeps.sweep(source, {"x": [1, 2]}, out, progress=False)
    assert table["double"].tolist() == [2, 4] and (out / "sweep.csv").exists()
    assert not (out / "sweep.partial.csv").exists() and not (out / "failures.txt").exists()


def test_a_users_files_named_like_the_partial_results_are_never_replaced_or_removed(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "failures.txt").write_text("my notes\n")
    (out / "sweep.partial.csv").write_text("mine\n")
    source = notebook(tmp_path, "if x == 1:\n    raise ValueError('no')\n" + RECORD)
    with pytest.raises(sweeps.SweepError, match="written instead: nothing"):
        sweeps.sweep(source, {"x": [1, 2]}, out, progress=False)
    sweeps.sweep(notebook(tmp_path, RECORD), {"x": [1, 2]}, out, progress=False)
    assert (out / "failures.txt").read_text() == "my notes\n"
    assert (out / "sweep.partial.csv").read_text() == "mine\n"
