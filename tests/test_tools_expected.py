"""tools.expected: recorded numbers against tests/expected, with tolerances from the
measured cross-CPU drift; ``--write`` never writes an expectation that records nothing."""

import json

import nbformat
import pytest

from noise2image import runner
from tools import expected, kernels


def tiny_notebook(tmp_path, code, name="01_tiny.ipynb"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1\nprofile = 'smoke'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(code),
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kernelspec"] = kernel
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


GLUING = (
    "from noise2image.records import glue, record\n"
    "glue('clarity', 41.5 * x)\nglue('verdict', 'lower')\nrecord('table', {'row': {'FID': x}})"
)


def test_glued_numbers_and_words_are_checked_against_expected_files(tmp_path):
    source = tiny_notebook(tmp_path, GLUING)
    executed = tmp_path / "run" / "01_tiny.ipynb"
    runner.run_notebook(source, executed, {"x": 2, "profile": "smoke"})
    folder = tmp_path / "expected"
    assert expected.check_records(executed.parent, "smoke", write=True, expected=folder) == []
    stored = (folder / "01_tiny.smoke.json").read_text()
    assert '"clarity": 83.0' in stored and '"table.row.FID": 2' in stored
    assert expected.check_records(executed.parent, "smoke", expected=folder) == []
    # a changed number fails, naming the chapter, the number and the expected value
    runner.run_notebook(source, executed, {"x": 3, "profile": "smoke"})
    problems = expected.check_records(executed.parent, "smoke", expected=folder)
    assert "01_tiny: clarity = 124.5, expected 83.0 (± 0.416)" in problems
    assert any(p.startswith("01_tiny: table.row.FID = 3, expected 2") for p in problems)


def test_a_number_may_move_by_three_times_its_measured_drift_and_no_more():
    file = {"values": {"FID": 10.0, "n": 500}, "drift": {"FID": 0.2}}
    assert expected.compare_records({"FID": 10.59, "n": 500}, file) == []
    assert expected.compare_records({"FID": 10.61, "n": 500}, file, "06_x") == [
        "06_x: FID = 10.61, expected 10.0 (± 0.6)"
    ]
    # a number no kernel set moved keeps the floor: half a per cent and 0.001
    assert expected.compare_records({"FID": 10.0, "n": 502}, file) == []
    assert expected.compare_records({"FID": 10.0, "n": 503}, file, "06_x") == [
        "06_x: n = 503, expected 500 (± 2.5)"
    ]


def test_words_must_match_unless_another_kernel_set_was_seen_to_give_them():
    file = {"values": {"verdict": "held", "word": "blurry"}, "words seen": {"word": ["noisy"]}}
    assert expected.compare_records({"verdict": "held", "word": "noisy"}, file) == []
    assert expected.compare_records({"verdict": "not held", "word": "thin"}, file, "09") == [
        "09: verdict = 'not held', expected 'held'",
        "09: word = 'thin', expected 'blurry'",
    ]


def test_nan_against_a_number_is_a_problem_and_nan_against_nan_is_not():
    file = {"values": {"FID": 10.0, "IS": float("nan")}}
    assert expected.compare_records({"FID": float("nan"), "IS": float("nan")}, file) == [
        ": FID = nan, expected 10.0 (± 0.051)"
    ]


def test_missing_and_unexpected_numbers_are_named():
    file = {"values": {"FID": 10.0, "n": 500}}
    assert expected.compare_records({"FID": 10.0, "extra": 1}, file, "06_x") == [
        "06_x: n was not recorded (expected 500)",
        "06_x: extra is recorded but not expected",
    ]


def test_write_refuses_a_failed_chapter_and_writes_nothing(tmp_path):
    import papermill

    good = tiny_notebook(tmp_path, GLUING)
    bad = tiny_notebook(tmp_path, "raise RuntimeError('broken cell')", "02_broken.ipynb")
    run = tmp_path / "run"
    runner.run_notebook(good, run / good.name, {"profile": "smoke"})
    with pytest.raises(papermill.PapermillExecutionError):
        runner.run_notebook(bad, run / bad.name, {"profile": "smoke"})
    folder = tmp_path / "expected"
    with pytest.raises(expected.WriteRefused, match="02_broken failed .*broken cell"):
        expected.check_records(run, "smoke", write=True, expected=folder)
    assert not folder.exists()  # not even the good chapter's file


def test_write_refuses_runs_of_another_profile(tmp_path):
    source = tiny_notebook(tmp_path, GLUING)
    run = tmp_path / "run"
    runner.run_notebook(source, run / source.name, {"profile": "smoke"})
    folder = tmp_path / "expected"
    with pytest.raises(expected.WriteRefused, match="ran with profile='smoke', not 'full'"):
        expected.check_records(run, "full", write=True, expected=folder)
    assert not folder.exists()


def test_write_refuses_a_chapter_that_recorded_nothing(tmp_path):
    source = tiny_notebook(tmp_path, "y = x + 1")
    run = tmp_path / "run"
    runner.run_notebook(source, run / source.name, {"profile": "smoke"})
    with pytest.raises(expected.WriteRefused, match="recorded no numbers"):
        expected.check_records(run, "smoke", write=True, expected=tmp_path / "expected")


def test_write_keeps_the_measured_drift_of_the_file(tmp_path):
    source = tiny_notebook(tmp_path, GLUING)
    run = tmp_path / "run"
    runner.run_notebook(source, run / source.name, {"profile": "smoke", "x": 2})
    folder = tmp_path / "expected"
    folder.mkdir()
    old = {"values": {"clarity": 1.0}, "drift": {"clarity": 0.5, "gone": 1.0}}
    (folder / "01_tiny.smoke.json").write_text(json.dumps(old))
    expected.check_records(run, "smoke", write=True, expected=folder)
    written = json.loads((folder / "01_tiny.smoke.json").read_text())
    assert written["drift"] == {"clarity": 0.5} and written["values"]["clarity"] == 83.0


def test_a_file_without_measured_drift_keeps_its_tolerance_and_a_measured_one_gets_the_floor(
    tmp_path,
):
    source = tiny_notebook(tmp_path, GLUING)
    run = tmp_path / "run"
    runner.run_notebook(source, run / source.name, {"profile": "smoke", "x": 2})
    folder = tmp_path / "expected"
    folder.mkdir()
    path = folder / "01_tiny.smoke.json"
    blanket = {"relative": 0.02, "absolute": 0.002}
    path.write_text(json.dumps({"tolerance": blanket, "values": {"clarity": 1.0}}))
    expected.check_records(run, "smoke", write=True, expected=folder)
    assert json.loads(path.read_text())["tolerance"] == blanket
    # drift observed on another machine only (`observed`) keeps the blanket tolerance too
    observed = {"tolerance": blanket, "values": {"clarity": 1.0}, "drift": {"clarity": 0.5},
                "measured on": "observed on another machine: ci.txt"}  # fmt: skip
    path.write_text(json.dumps(observed))
    expected.check_records(run, "smoke", write=True, expected=folder)
    rewritten = json.loads(path.read_text())
    assert rewritten["tolerance"] == blanket and rewritten["drift"] == {"clarity": 0.5}
    # ... and so do spreads that only widened the drift (`drift --widen`)
    path.write_text(json.dumps({**observed, "measured on": "widened by kernel sets a, b"}))
    expected.check_records(run, "smoke", write=True, expected=folder)
    assert json.loads(path.read_text())["tolerance"] == blanket
    expected.write_expected(run / source.name, "smoke", folder, drift={"clarity": 0.1})
    assert json.loads(path.read_text())["tolerance"] == expected.FLOOR


def test_check_command_reports_problems_with_its_exit_code(tmp_path, capsys):
    assert expected.main(["check", str(tmp_path), "--profile", "smoke"]) == 2
    assert "no executed chapters" in capsys.readouterr().out


def test_another_machines_check_output_widens_the_drift_of_what_it_named(tmp_path, capsys):
    folder = tmp_path / "expected"
    folder.mkdir()
    values = {"FID": 10.0, "IS, live (3 epochs).x": 2.0, "verdict": "held", "n": 5}
    (folder / "04_x.full.json").write_text(
        json.dumps({"values": values, "drift": {"FID": 0.5}, "words seen": {}})
    )
    log = tmp_path / "ci.txt"
    log.write_text(
        "# printed on CI\n"
        "checked on: Some Xeon, torch kernels AVX512\n"
        "04_x: FID = 10.3, expected 10.0 (± 0.05)\n"  # within the old drift: unchanged
        "04_x: IS, live (3 epochs).x = 2.6, expected 2.0 (± 0.011)\n"
        "04_x: verdict = 'not held', expected 'held'\n"
        "expected numbers checked for x (full): 3 problems\n"
    )
    changes = expected.fold_observed(log, "full", folder)
    assert changes == ["04_x: IS, live (3 epochs).x drift 0.6", "04_x: verdict also 'not held'"]
    stored = json.loads((folder / "04_x.full.json").read_text())
    assert stored["drift"] == {"FID": 0.5, "IS, live (3 epochs).x": pytest.approx(0.6)}
    assert stored["words seen"] == {"verdict": ["held", "not held"]}
    assert stored["measured on"] == "observed on another machine: ci.txt"
    # the other machine's values now pass, and a number beyond three times its drift does not
    seen = {**values, "IS, live (3 epochs).x": 2.6, "verdict": "not held"}
    assert expected.compare_records(seen, stored) == []
    assert expected.compare_records({**seen, "IS, live (3 epochs).x": 3.9}, stored) != []
    # a log naming a number the file does not hold writes nothing
    log.write_text("04_x: gone = 1.0, expected 2.0 (± 0.01)\n")
    with pytest.raises(expected.WriteRefused, match="gone"):
        expected.fold_observed(log, "full", folder)
    log.write_text("nothing useful\n")
    assert expected.main(["observed", str(log), "--profile", "full"]) == 2
    assert "holds no problem lines" in capsys.readouterr().out


def test_kernel_set_spreads_only_widen_and_keep_values_tolerance_and_other_machines(tmp_path):
    folder = tmp_path / "expected"
    folder.mkdir()
    values = {"FID": 10.0, "n": 5, "verdict": "held"}
    file = {
        "tolerance": {"relative": 0.02, "absolute": 0.002},
        "drift": {"FID": 0.5},  # seen on CI's machine: a smaller local spread keeps it
        "words seen": {"verdict": ["held", "not shown"]},
        "values": values,
        "measured on": "observed on another machine: ci.txt",
    }
    (folder / "04_x.full.json").write_text(json.dumps(file))
    spreads = {"FID": 0.2, "n": 1.0, "gone": 3.0}
    words = {"verdict": ["held", "not held"]}
    note = "widened by sets a, b"
    changes = expected.widen_drift("04_x", "full", spreads, words, note, folder)
    assert changes == ["04_x: n drift 1", "04_x: verdict also 'not held'"]
    stored = json.loads((folder / "04_x.full.json").read_text())
    assert stored["values"] == values and stored["tolerance"] == file["tolerance"]
    assert stored["drift"] == {"FID": 0.5, "n": 1.0}
    assert stored["words seen"] == {"verdict": ["held", "not held", "not shown"]}
    assert stored["measured on"] == "observed on another machine: ci.txt; widened by sets a, b"
    # widening twice changes nothing more
    assert expected.widen_drift("04_x", "full", spreads, words, note, folder) == []
    with pytest.raises(expected.WriteRefused, match="no expected file"):
        expected.widen_drift("05_y", "full", spreads, words, "note", folder)


def test_drift_names_a_chapter_it_has_no_runs_of(tmp_path, capsys):
    for name in ("native", "default"):
        (tmp_path / f"{name}-full" / "notebooks").mkdir(parents=True)
    argv = ["drift", "04_gan_trainin", "--profile", "full", "--sets", "native", "default",
            "--out", str(tmp_path), "--widen"]  # fmt: skip
    assert kernels.main(argv) == 2
    assert "no run of ['04_gan_trainin']" in capsys.readouterr().out
