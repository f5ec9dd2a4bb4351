"""Chapter-level checks. The smoke runs themselves are made by `make test` before pytest
(python -m noise2image.runner --profile smoke) and validated cell by cell by nbval."""

import json
import re

import nbformat
import papermill
import pytest

from noise2image.runner import chapters, run_notebook

CHAPTERS = chapters()
REQUIRED = ("profile", "seed", "device")


def test_there_are_chapters():
    assert [p.name for p in CHAPTERS][:1] == ["01_data.ipynb"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_stored_clean_with_a_parameters_cell_first(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "store without outputs"
    first = code[0]
    assert "parameters" in first.metadata.get("tags", []), "first code cell must be `parameters`"
    names = set(re.findall(r"^(\w+)\s*=", first.source, flags=re.M))
    assert set(REQUIRED) <= names, f"parameters cell lacks {set(REQUIRED) - names}"
    assert re.search(r'^profile = "full"', first.source, flags=re.M), "the book runs `full`"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_bad_profile_stops_in_the_first_cells_naming_the_allowed_ones(path, tmp_path):
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        run_notebook(path, tmp_path / path.name, {"profile": "nonsense"})
    assert "ParameterError" in failure.value.ename
    assert "'smoke', 'full'" in failure.value.evalue
    executed = json.loads((tmp_path / path.name).read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    failed_at = next(
        i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c["outputs"])
    )
    assert failed_at <= 4, f"failed only at code cell {failed_at}"


EXPERIMENTS = sorted((CHAPTERS[0].parent / "experiments").glob("*.ipynb"))


@pytest.mark.parametrize("path", [*CHAPTERS, *EXPERIMENTS], ids=lambda p: p.stem)
def test_an_unknown_papermill_parameter_stops_in_the_first_cells_naming_the_parameters(
    path, tmp_path
):
    # papermill itself only warns about `-p datset openmoji` (a typo) and runs the defaults
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        run_notebook(path, tmp_path / path.name, {"profile": "smoke", "datset": "openmoji"})
    assert "ParameterError" in failure.value.ename
    assert "unknown parameter datset" in failure.value.evalue
    listed = failure.value.evalue.split("parameters are ")[1].split(", ")
    assert set(REQUIRED) <= set(listed)  # the parameters cell's names
    executed = json.loads((tmp_path / path.name).read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    failed_at = next(
        i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c["outputs"])
    )
    assert failed_at <= 4, f"failed only at code cell {failed_at}"


BY_STEM = {p.stem[:2]: p for p in CHAPTERS}


@pytest.mark.parametrize(
    ("chapter", "parameters", "message"),
    [
        # 0 used to become the profile's default through `x or default`
        ("06", {"ablation_epochs": []}, r"ablation_epochs=\[\] must be a non-empty list"),
        ("07", {"generator_epochs": 0}, "generator_epochs=0 is too small; it must be >= 1"),
        ("08", {"live_epochs": 0}, "live_epochs=0 is too small; it must be >= 1"),
        ("08", {"guidance_scales": 4}, "guidance_scales=4 must be a non-empty list"),
        ("09", {"rl_steps": 0}, "rl_steps=0 is too small; it must be >= 1"),
        ("09", {"seeds": 1}, 'seeds=1 must be a non-empty list .* -y "seeds: '),
        ("09", {"seeds": "(1, 2)"}, "seeds='.1, 2.' must be a non-empty list"),
        ("09", {"reward_weights": [1.0, float("nan"), 1.0]}, r"reward_weights\[1\]=nan"),
    ],
)
def test_zero_and_a_number_for_a_list_stop_in_the_first_cells(
    chapter, parameters, message, tmp_path
):
    path = BY_STEM[chapter]
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        run_notebook(path, tmp_path / path.name, {"profile": "smoke", **parameters})
    assert "ParameterError" in failure.value.ename
    assert re.search(message, failure.value.evalue), failure.value.evalue


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_device_cuda_without_a_gpu_stops_in_the_first_cells(path, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible: device='cuda' is allowed here")
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        run_notebook(path, tmp_path / path.name, {"profile": "smoke", "device": "cuda"})
    assert "ParameterError" in failure.value.ename and "no CUDA GPU" in failure.value.evalue


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_glued_name_in_the_prose_is_glued_by_a_cell(path):
    # a {glue:text}`name` whose runner.glue("name", ...) went missing only shows up as a
    # warning of the book build; this names it at once
    nb = nbformat.read(path, as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    wanted = set(re.findall(r"\{glue:text\}`([\w]+)", prose))
    glued = set(re.findall(r"\bglue\(\s*f?\"([\w{}]+)\"", code))  # runner.glue or an alias
    patterns = [re.compile("^" + re.sub(r"\{\w+\}", r"\\w+", name) + "$") for name in glued]
    missing = sorted(w for w in wanted if not any(p.match(w) for p in patterns))
    assert not missing, f"{path.stem}: glued in the prose but by no cell: {missing}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_the_same_skeleton(path):
    """STYLE.md's page skeleton: idea and what you learn / need first; the install cell
    removed and the set-up collapsed in the book; widget outputs removed (their static
    figures stay); quiz, exercise with a dropdown solution, key insight, summary at the end,
    in that order."""
    nb = nbformat.read(path, as_version=4)
    opening = nb.cells[0].source
    assert opening.startswith("# ") and "**You will learn**" in opening, "title, then the idea"
    assert "**You need**" in opening
    code = [c for c in nb.cells if c.cell_type == "code"]
    install, set_up = code[1], code[2]
    assert install.source.startswith("# Installs the course package")
    assert "remove-cell" in install.metadata.get("tags", []), (
        "the install cell stays out of the book"
    )
    assert "hide-input" in set_up.metadata.get("tags", []), "the set-up cell is collapsed"
    for cell in code:
        if re.search(r"widgets\.(RatingWidget|latent_explorer|prompt_playground)\(", cell.source):
            assert "remove-output" in cell.metadata.get("tags", []), cell.source[:60]
    text = "\n".join(c.source for c in nb.cells)
    marks = [
        "## Quiz",
        "widgets.show_quiz(",
        "## Exercises",
        "{exercise}",
        "{solution}",
        "{admonition} The key insight\n:class: important",
        "## Summary",
    ]
    places = [text.find(mark) for mark in marks]
    assert all(p >= 0 for p in places), [m for m, p in zip(marks, places, strict=True) if p < 0]
    assert places == sorted(places), "quiz, exercises, key insight, summary: in this order"
    assert re.search(r"\{solution\}[^\n]*\n:class: dropdown", text), "solutions in a dropdown"
