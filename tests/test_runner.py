"""The sweep helper: a notebook run over a grid, its recorded numbers gathered in one table."""

import json

import nbformat
import papermill
import pytest

from noise2image import records, runner, sweeps
from tools import ROOT

EXPERIMENT = ROOT / "notebooks" / "experiments" / "regression_run.ipynb"


def test_record_round_trip_through_an_executed_notebook(tmp_path):
    source = tiny_notebook(
        tmp_path, "from noise2image.records import record\nrecord('metrics', {'double': 2 * x})"
    )
    table = sweeps.sweep(source, {"x": [1, 5]}, out=tmp_path / "out", progress=False)
    assert table["double"].tolist() == [2, 10]
    with pytest.raises(sweeps.SweepError, match="recorded no 'other'"):
        sweeps.sweep(source, {"x": [1]}, out=tmp_path / "out2", name="other", progress=False)
    with pytest.raises(ValueError, match="at least one"):
        sweeps.sweep(source, {"x": []}, out=tmp_path / "out3")


def test_the_experiment_notebook_names_allowed_values(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        runner.run_notebook(
            EXPERIMENT, tmp_path / "bad.ipynb", {"profile": "smoke", "pairing": "zip"}
        )
    assert "'random', 'fixed'" in failure.value.evalue


def test_command_line_parses_grids_and_fixed_values():
    assert sweeps._assignments(["lr=1e-3,1e-4", "pairing=fixed"], many=True) == {
        "lr": [1e-3, 1e-4],
        "pairing": ["fixed"],
    }
    assert sweeps._assignments(["profile=smoke", "epochs=3"], many=False) == {
        "profile": "smoke",
        "epochs": 3,
    }
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        sweeps._assignments(["lr"], many=True)


def tiny_notebook(tmp_path, code: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 2", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(code),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "01_tiny.ipynb"
    nbformat.write(nb, path)
    return path


def test_glued_numbers_and_words_are_recorded(tmp_path):
    source = tiny_notebook(
        tmp_path,
        "from noise2image.records import glue, record\n"
        "glue('clarity', 41.5 * x)\nglue('verdict', 'lower')\nrecord('table', {'row': {'FID': x}})",
    )
    executed = tmp_path / "run" / "01_tiny.ipynb"
    runner.run_notebook(source, executed, {"x": 2})
    outputs = nbformat.read(executed, as_version=4).cells[-1].outputs
    assert not [o for o in outputs if o.output_type == "execute_result"]  # glue shows nothing
    assert records.recorded(executed) == {
        "clarity": 83.0,
        "verdict": "lower",
        "table": {"row": {"FID": 2}},
    }


def test_the_package_points_at_the_repository_tool_for_expected_numbers(capsys):
    assert runner.main(["check", "anywhere", "--profile", "smoke"]) == 2
    assert "python -m tools.expected check" in capsys.readouterr().out


def test_recorded_reads_the_glue_file_a_book_build_writes(tmp_path):
    # myst-nb moves glued outputs out of the executed notebook into STEM.glue.json
    nb = nbformat.v4.new_notebook()
    nbformat.write(nb, tmp_path / "06_x.ipynb")
    glued = {
        "clarity": {"data": {"text/plain": "45.4"}, "metadata": {}},
        "verdict": {"data": {"text/plain": "'well below'"}, "metadata": {}},
        "table": {"data": {"text/plain": '{"row": {"FID": 2}}'}, "metadata": {}},
    }
    (tmp_path / "06_x.glue.json").write_text(json.dumps(glued))
    assert records.recorded(tmp_path / "06_x.ipynb") == {
        "clarity": 45.4,
        "verdict": "well below",
        "table": {"row": {"FID": 2}},
    }
