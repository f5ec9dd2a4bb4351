"""Chapter-level checks. The smoke runs themselves are made by `make test` before pytest
(python -m noise2image.runner --profile smoke) and validated cell by cell by nbval."""

import json
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor

import nbformat
import papermill
import pytest

from noise2image.runner import chapters, run_notebook

CHAPTERS = chapters()
REQUIRED = ("profile", "seed", "device")
EXPERIMENTS = sorted((CHAPTERS[0].parent / "experiments").glob("*.ipynb"))
BY_STEM = {p.stem[:2]: p for p in CHAPTERS}

# The runs that must stop in a chapter's first cells, each with what its error must say.
# 0 used to become the profile's default through `x or default`; papermill itself only
# warns about `-p datset openmoji` (a typo) and runs the defaults.
UNKNOWN = {"profile": "smoke", "datset": "openmoji"}
BAD_VALUES = [
    ("06", {"ablation_epochs": []}, r"ablation_epochs=\[\] must be a non-empty list"),
    ("07", {"generator_epochs": 0}, "generator_epochs=0 is too small; it must be >= 1"),
    ("08", {"live_epochs": 0}, "live_epochs=0 is too small; it must be >= 1"),
    ("08", {"guidance_scales": 4}, "guidance_scales=4 must be a non-empty list"),
    ("09", {"rl_steps": 0}, "rl_steps=0 is too small; it must be >= 1"),
    ("09", {"seeds": 1}, 'seeds=1 must be a non-empty list .* -y "seeds: '),
    ("09", {"seeds": "(1, 2)"}, "seeds='.1, 2.' must be a non-empty list"),
    ("09", {"reward_weights": [1.0, float("nan"), 1.0]}, r"reward_weights\[1\]=nan"),
]
RUNS = {
    **{("bad profile", p.stem): (p, {"profile": "nonsense"}) for p in CHAPTERS},
    **{("unknown parameter", p.stem): (p, UNKNOWN) for p in [*CHAPTERS, *EXPERIMENTS]},
    **{
        ("bad value", f"{chapter}-{i}"): (BY_STEM[chapter], {"profile": "smoke", **parameters})
        for i, (chapter, parameters, _) in enumerate(BAD_VALUES)
    },
    **{("cuda", p.stem): (p, {"profile": "smoke", "device": "cuda"}) for p in CHAPTERS},
}


def runs(kind: str) -> list:
    return [key for key in RUNS if key[0] == kind]


def _stopped_run(path, output, parameters):
    """One papermill run in a worker process: its error's (ename, evalue), or None."""
    try:
        run_notebook(path, output, parameters)
    except papermill.PapermillExecutionError as failure:
        return failure.ename, failure.evalue
    return None


@pytest.fixture(scope="module")
def stopped(request, tmp_path_factory):
    """The runs of RUNS that this session's selected tests check, two at a time.

    Each costs a kernel start and the chapter's imports (5-10 s) and then stops, using one
    of the two cores; run one after another they took over five minutes of `make test`.
    They run in processes of their own, not threads: papermill changes the process's working
    folder while it runs a notebook. Each test waits for its own run."""
    import torch

    wanted = [
        item.callspec.params["run"]
        for item in request.session.items
        if getattr(item, "module", None) is request.module
        and "run" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    wanted = [key for key in wanted if key[0] != "cuda" or not torch.cuda.is_available()]
    folder = tmp_path_factory.mktemp("stopped-runs")
    spawn = multiprocessing.get_context("spawn")  # no fork of a process that runs threads
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        outputs, futures = {}, {}
        for i, key in enumerate(wanted):
            path, parameters = RUNS[key]
            outputs[key] = folder / f"{i:02d}-{path.name}"
            futures[key] = pool.submit(_stopped_run, path, outputs[key], parameters)
        yield lambda key: (futures[key].result(), outputs[key])


def failed_cell(output) -> int:
    """The index among the code cells of the cell that failed in an executed notebook."""
    executed = json.loads(output.read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    return next(
        i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c["outputs"])
    )


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


@pytest.mark.parametrize("run", runs("bad profile"), ids=lambda key: key[1])
def test_bad_profile_stops_in_the_first_cells_naming_the_allowed_ones(run, stopped):
    error, output = stopped(run)
    assert error is not None, "the chapter ran to the end"
    ename, evalue = error
    assert "ParameterError" in ename
    assert "'smoke', 'full'" in evalue
    assert failed_cell(output) <= 4, f"failed only at code cell {failed_cell(output)}"


@pytest.mark.parametrize("run", runs("unknown parameter"), ids=lambda key: key[1])
def test_an_unknown_papermill_parameter_stops_in_the_first_cells_naming_the_parameters(
    run, stopped
):
    error, output = stopped(run)
    assert error is not None, "the notebook ran to the end with the defaults"
    ename, evalue = error
    assert "ParameterError" in ename
    assert "unknown parameter datset" in evalue
    listed = evalue.split("parameters are ")[1].split(", ")
    assert set(REQUIRED) <= set(listed)  # the parameters cell's names
    assert failed_cell(output) <= 4, f"failed only at code cell {failed_cell(output)}"


@pytest.mark.parametrize("run", runs("bad value"), ids=lambda key: key[1])
def test_zero_and_a_number_for_a_list_stop_in_the_first_cells(run, stopped):
    error, _ = stopped(run)
    message = BAD_VALUES[int(run[1].split("-")[1])][2]
    assert error is not None, "the chapter ran to the end"
    ename, evalue = error
    assert "ParameterError" in ename
    assert re.search(message, evalue), evalue


@pytest.mark.parametrize("run", runs("cuda"), ids=lambda key: key[1])
def test_device_cuda_without_a_gpu_stops_in_the_first_cells(run, stopped):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible: device='cuda' is allowed here")
    error, _ = stopped(run)
    assert error is not None, "the chapter ran to the end"
    ename, evalue = error
    assert "ParameterError" in ename and "no CUDA GPU" in evalue


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
