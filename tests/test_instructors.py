"""The instructors' pages are written from the course's files: the chapters' parameters
cells, first cells and quizzes, and the benchmark's times; the course has one home."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from noise2image import runner, widgets
from noise2image.runner import chapters
from tools import instructors

ROOT = Path(__file__).resolve().parents[1]


def _edit_parameters(notebook: Path, old: str, new: str) -> None:
    book = json.loads(notebook.read_text())
    cell = next(c for c in book["cells"] if "parameters" in c["metadata"].get("tags", []))
    source = "".join(cell["source"])
    assert old in source
    cell["source"] = source.replace(old, new)
    notebook.write_text(json.dumps(book, indent=1, ensure_ascii=False))


def test_every_chapter_parameter_is_in_the_table_with_its_default_and_comment():
    table = instructors.parameter_table(chapters())
    for notebook in chapters():
        for entry in runner.parameters(notebook):
            assert entry["help"], f"{notebook.name}: {entry['name']} has no comment"
            assert f"`{entry['name']}` | `{entry['default']}` |" in table


def test_the_parameter_table_follows_the_parameters_cell(tmp_path):
    copy = tmp_path / "05_generation.ipynb"
    shutil.copy(ROOT / "notebooks" / copy.name, copy)
    before = instructors.parameter_table([copy])
    _edit_parameters(copy, "digit = 7", "digit = 3")
    _edit_parameters(copy, "\nsteps = ", "\nwidth = 2  # a new knob\nsteps = ")
    after = instructors.parameter_table([copy])
    assert "| `digit` | `7` |" in before and "| `digit` | `3` |" in after
    assert "| 5 | `width` | `2` | a new knob |" in after and "width" not in before


def test_the_instructors_page_is_rebuilt_when_a_parameters_cell_changes(tmp_path):
    """No edit to the page: Sphinx re-reads it because the directive noted the notebooks."""
    (tmp_path / "notebooks").mkdir()
    notebook = tmp_path / "notebooks" / "05_generation.ipynb"
    shutil.copy(ROOT / "notebooks" / notebook.name, notebook)
    (tmp_path / "index.md").write_text("# Parameters\n\n```{chapter-parameters}\n```\n")
    (tmp_path / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "extensions = ['myst_nb', 'course_pages']\n"
        "exclude_patterns = ['notebooks', '_build']\nnb_execution_mode = 'off'\n"
    )

    def build() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "sphinx", "-b", "html", "-W", "-q", ".", "_build"],
            cwd=tmp_path, capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return (tmp_path / "_build" / "index.html").read_text()

    assert '<code class="docutils literal notranslate"><span class="pre">7</span>' in build()
    _edit_parameters(notebook, "digit = 7", "digit = 9")
    page = build()
    assert '<span class="pre">9</span>' in page and '<span class="pre">7</span>' not in page


def test_the_objectives_table_has_every_chapter_with_what_it_teaches_and_needs():
    table = instructors.objectives_table(chapters())
    rows = [line for line in table.splitlines()[2:]]
    assert len(rows) == len(chapters())
    for notebook, row in zip(chapters(), rows, strict=True):
        said = instructors.objectives(notebook)
        assert instructors.chapter_title(notebook) in row
        assert said["learn"] in row and said["need"] in row and len(said["need"]) > 20


def test_objectives_need_both_sentences(tmp_path):
    copy = tmp_path / "01_data.ipynb"
    book = json.loads((ROOT / "notebooks" / copy.name).read_text())
    book["cells"][0]["source"] = ["# 1. Data\n", "\n", "**You will learn** things.\n"]
    copy.write_text(json.dumps(book))
    with pytest.raises(ValueError, match="You need"):
        instructors.objectives(copy)


def test_the_quiz_key_gives_every_correct_answer_and_no_wrong_one():
    key = instructors.quiz_key(chapters())
    for notebook in chapters():
        assert f"## {instructors.chapter_title(notebook)}" in key.replace("\\", "")
        for question in widgets.load_quiz(notebook.stem):
            for answer in question["answers"]:
                shown = f"**{instructors._escape(str(answer['answer']))}**"
                assert (shown in key) == bool(answer.get("correct")), answer


def test_the_times_table_has_both_profiles_of_every_chapter(tmp_path):
    table = instructors.times_table(ROOT / "benchmarks" / "results.md")
    rows = {line.split("|")[2].strip(" `"): line for line in table.splitlines() if "| `" in line}
    assert sorted(rows) == [p.stem for p in chapters()]
    assert all("–" not in row for row in rows.values())
    broken = tmp_path / "results.md"
    broken.write_text("# nothing measured\n")
    with pytest.raises(ValueError, match="holds no"):
        instructors.times_table(broken)


# ----------------------------------------------------------------------------- one home


def test_every_install_cell_names_the_repository_of_config():
    url = instructors.home()
    assert url.startswith("https://github.com/")
    for notebook in chapters():
        assert instructors.install_cells(notebook) == [url], notebook.name
        text = "".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"])
        assert instructors.install_line(url) in text, notebook.name


def test_a_notebook_that_installs_from_another_url_is_found_and_synced(tmp_path):
    copy = tmp_path / "01_data.ipynb"
    url = instructors.home()
    copy.write_text((ROOT / "notebooks" / copy.name).read_text().replace(url, url + "-fork"))
    assert instructors.install_cells(copy) == [url + "-fork"]  # the check above would fail
    assert instructors.sync_home([copy], url) == [copy]
    assert instructors.install_cells(copy) == [url]
    assert copy.read_text() == (ROOT / "notebooks" / copy.name).read_text()  # nothing else


def test_home_needs_a_repository_url(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("title: x\n")
    with pytest.raises(ValueError, match="repository.url"):
        instructors.home(config)
