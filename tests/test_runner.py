"""The sweep helper: a notebook run over a grid, its recorded numbers gathered in one table."""

import json

import nbformat
import papermill
import pytest

from noise2image import runner

EXPERIMENT = runner.ROOT / "notebooks" / "experiments" / "regression_run.ipynb"


def test_record_round_trip_through_an_executed_notebook(tmp_path):
    source = tiny_notebook(
        tmp_path, "from noise2image.runner import record\nrecord('metrics', {'double': 2 * x})"
    )
    table = runner.sweep(source, {"x": [1, 5]}, out=tmp_path / "out", progress=False)
    assert table["double"].tolist() == [2, 10]
    with pytest.raises(runner.SweepError, match="recorded no 'other'"):
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


def test_glued_numbers_and_words_are_recorded_and_checked_against_expected_files(tmp_path):
    source = tiny_notebook(
        tmp_path,
        "from noise2image.runner import glue, record\n"
        "glue('clarity', 41.5 * x)\nglue('verdict', 'lower')\nrecord('table', {'row': {'FID': x}})",
    )
    executed = tmp_path / "run" / "01_tiny.ipynb"
    runner.run_notebook(source, executed, {"x": 2})
    outputs = nbformat.read(executed, as_version=4).cells[-1].outputs
    assert not [o for o in outputs if o.output_type == "execute_result"]  # glue shows nothing
    assert runner.recorded(executed) == {
        "clarity": 83.0,
        "verdict": "lower",
        "table": {"row": {"FID": 2}},
    }
    expected = tmp_path / "expected"
    assert runner.check_records(executed.parent, "smoke", write=True, expected=expected) == []
    stored = (expected / "01_tiny.smoke.json").read_text()
    assert '"clarity": 83.0' in stored and '"table.row.FID": 2' in stored
    assert runner.check_records(executed.parent, "smoke", expected=expected) == []
    # a changed number fails, naming the chapter, the number and the expected value
    runner.run_notebook(source, executed, {"x": 3})
    problems = runner.check_records(executed.parent, "smoke", expected=expected)
    assert "01_tiny: clarity = 124.5, expected 83.0 (± 1.66)" in problems
    assert any(p.startswith("01_tiny: table.row.FID = 3, expected 2") for p in problems)


def test_compare_records_tolerates_small_differences_and_names_missing_numbers():
    expected = {"values": {"FID": 10.0, "verdict": "held", "n": 500}}
    assert runner.compare_records({"FID": 10.1, "verdict": "held", "n": 500}, expected) == []
    problems = runner.compare_records({"FID": 10.5, "verdict": "not held"}, expected, "06_x")
    assert problems == [
        "06_x: FID = 10.5, expected 10.0 (± 0.202)",
        "06_x: verdict = 'not held', expected 'held'",
        "06_x: n was not recorded (expected 500)",
    ]
    assert runner.compare_records({"FID": 10.0, "extra": 1}, {"values": {"FID": 10.0}}) == [
        ": extra is recorded but not expected"
    ]


def test_check_command_reports_problems_with_its_exit_code(tmp_path, capsys):
    assert runner.main(["check", str(tmp_path), "--profile", "smoke"]) == 2
    assert "no executed chapters" in capsys.readouterr().out


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
    assert runner.recorded(tmp_path / "06_x.ipynb") == {
        "clarity": 45.4,
        "verdict": "well below",
        "table": {"row": {"FID": 2}},
    }
