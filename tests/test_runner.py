"""The sweep helper: a notebook run over a grid, its recorded numbers gathered in one table."""

import nbformat
import papermill
import pytest

from noise2image import runner

EXPERIMENT = runner.ROOT / "notebooks" / "experiments" / "regression_run.ipynb"


def test_a_2x2_smoke_sweep_gives_a_4_row_table(tmp_path):
    table = runner.sweep(
        EXPERIMENT,
        {"sharpen_weight": [0.0, 1.0], "lr": [1e-3, 1e-4]},
        out=tmp_path,
        parameters={"profile": "smoke"},
        progress=False,
    )
    assert len(table) == 4
    assert list(table.columns[:2]) == ["sharpen_weight", "lr"]
    assert {"clarity", "FID", "recognisable", "train_seconds", "seconds"} <= set(table.columns)
    assert sorted(zip(table["sharpen_weight"], table["lr"], strict=True)) == [
        (0.0, 1e-4),
        (0.0, 1e-3),
        (1.0, 1e-4),
        (1.0, 1e-3),
    ]
    assert table["FID"].gt(0).all() and table["recognisable"].between(0, 1).all()
    assert table["FID"].nunique() == 4, "each run is a different training"
    assert (tmp_path / "sweep.csv").exists()
    assert len(list(tmp_path.glob("regression_run-*.ipynb"))) == 4


def test_record_round_trip_through_an_executed_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 2", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "from noise2image.runner import record\nrecord('metrics', {'double': 2 * x})"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    source = tmp_path / "tiny.ipynb"
    nbformat.write(nb, source)
    table = runner.sweep(source, {"x": [1, 5]}, out=tmp_path / "out", progress=False)
    assert table["double"].tolist() == [2, 10]
    with pytest.raises(KeyError, match="recorded no 'other'"):
        runner.sweep(source, {"x": [1]}, out=tmp_path / "out2", name="other", progress=False)
    with pytest.raises(ValueError, match="at least one"):
        runner.sweep(source, {"x": []}, out=tmp_path / "out3")


def test_the_experiment_notebook_names_allowed_values(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        runner.run_notebook(
            EXPERIMENT, tmp_path / "bad.ipynb", {"profile": "smoke", "pairing": "zip"}
        )
    assert "'random', 'fixed'" in failure.value.evalue


def test_command_line_parses_grids_and_fixed_values():
    assert runner._assignments(["lr=1e-3,1e-4", "pairing=fixed"], many=True) == {
        "lr": [1e-3, 1e-4],
        "pairing": ["fixed"],
    }
    assert runner._assignments(["profile=smoke", "epochs=3"], many=False) == {
        "profile": "smoke",
        "epochs": 3,
    }
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        runner._assignments(["lr"], many=True)
