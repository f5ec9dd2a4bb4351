"""What a chapter imports, the package installs: a learner in Colab gets the package with
its own requirements only (no ``dev`` extras), from the chapter's install cell.

The fresh environment is a new virtual environment that holds exactly the distributions
the package's ``[project] dependencies`` (in this checkout's ``pyproject.toml``) pull in,
linked from the test environment, so nothing is downloaded; the chapter's own install cell
then installs the package into it with pip, offline (``--no-index``), from a copy of this
checkout instead of the repository URL.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from noise2image.runner import chapters
from tools import instructors

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(sysconfig.get_paths()["purelib"])
# needed only by the instructors' tools (papermill runs, their time and memory; sweeps on
# a Dask cluster, the ``cluster`` extra); a chapter never imports them, and the package
# imports them only inside those functions (``distributed`` only in noise2image.cluster)
INSTRUCTOR_ONLY = {"papermill", "nbformat", "jupyter_client", "psutil", "distributed"}


def runtime_requirements(pyproject: Path) -> list[str]:
    return tomllib.loads(pyproject.read_text("utf-8"))["project"]["dependencies"]


def closure(requirements: list[str]) -> dict[str, metadata.Distribution]:
    """Every installed distribution the requirements pull in, by name (with the extras
    that requirements ask of each other, e.g. ``cuda-toolkit[cublas]``, but none of ours)."""
    found: dict[str, metadata.Distribution] = {}
    done: set[tuple[str, str]] = set()
    todo = [(Requirement(text), "") for text in requirements]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        found.setdefault(name, metadata.distribution(requirement.name))
        for wanted in ["", *sorted(requirement.extras)]:
            if (name, wanted) not in done:
                done.add((name, wanted))
                todo += [(Requirement(text), wanted) for text in found[name].requires or []]
    return found


def _entries(dist: metadata.Distribution) -> set[Path]:
    """A distribution's files, relative to site-packages (scripts outside it left out)."""
    return {Path(str(f)) for f in dist.files or [] if not str(f).startswith("..")}


def link_environment(venv: Path, dists: dict[str, metadata.Distribution]) -> None:
    """Make ``venv``'s site-packages hold exactly ``dists``: a top-level folder owned only
    by them is linked whole, a shared one (a namespace package) file by file."""
    ask = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", ask], capture_output=True, text=True, check=True
    )
    target = Path(done.stdout.strip())
    wanted = {name: _entries(dist) for name, dist in dists.items()}
    others = {
        part
        for dist in metadata.distributions()
        if canonicalize_name(dist.metadata["Name"]) not in dists
        for part in {f.parts[0] for f in _entries(dist)}
    }
    for files in wanted.values():
        for top in {f.parts[0] for f in files}:
            if top in others or not (SITE / top).is_dir():
                for f in (f for f in files if f.parts[0] == top):
                    if (SITE / f).exists() and not (target / f).exists():
                        (target / f).parent.mkdir(parents=True, exist_ok=True)
                        (target / f).symlink_to(SITE / f)
            elif not (target / top).exists():
                (target / top).symlink_to(SITE / top)


def checkout_copy(folder: Path, pyproject: str | None = None) -> Path:
    """What ``pip install git+URL`` would fetch: the project files a build needs."""
    copy = folder / "checkout"
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "README.md", copy)
    (copy / "pyproject.toml").write_text(pyproject or (ROOT / "pyproject.toml").read_text())
    return copy


def cells_to_run(notebook: Path, url: str) -> list[str]:
    """The chapter's code cells as a learner runs them, smoke-sized, with the install
    line pointed at ``url`` (a local copy) instead of the course's repository."""
    home = instructors.home()
    sources = []
    for cell in json.loads(notebook.read_text("utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if "parameters" in cell["metadata"].get("tags", []):
            source += '\nprofile = "smoke"'
        sources.append(source.replace(f"git+{home}", url))
    return sources


RUN_CELLS = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
for number, source in enumerate(json.load(open(sys.argv[1])), 1):
    result = shell.run_cell(source)
    if not result.success:
        print(f"cell {number} failed", file=sys.stderr)
        sys.exit(1)
import noise2image, jupyterquiz
print("installed at", noise2image.__file__)
"""


def fresh_run(tmp_path: Path, notebook: Path, pyproject: str | None = None):
    """A new venv with the runtime requirements only; the chapter's cells run in it."""
    requirements = runtime_requirements(Path(pyproject) if pyproject else ROOT / "pyproject.toml")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # pip and the build backend the install cell needs (it builds without isolation)
    link_environment(venv, closure([*requirements, "pip", "setuptools"]))
    copy = checkout_copy(tmp_path, pyproject and Path(pyproject).read_text())
    cells = tmp_path / "cells.json"
    cells.write_text(json.dumps(cells_to_run(notebook, f"file://{copy}")))
    script = tmp_path / "run_cells.py"
    script.write_text(RUN_CELLS)
    env = {
        **os.environ,
        "PIP_NO_INDEX": "1",  # offline: nothing but what is already here
        "PIP_NO_BUILD_ISOLATION": "0",  # pip's spelling of --no-build-isolation
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "MPLBACKEND": "agg",
        "PYTHONNOUSERSITE": "1",
    }
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(venv / "bin" / "python"), str(script), str(cells)],
        cwd=notebook.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_chapter_runs_in_a_fresh_environment_with_the_packages_own_requirements(tmp_path):
    done = fresh_run(tmp_path, chapters()[0])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # the install cell installed the package (from the copy) into the fresh environment
    assert f"installed at {tmp_path}/venv/" in done.stdout, done.stdout[-2000:]


def test_the_fresh_environment_misses_a_chapter_import_that_lives_only_in_dev(tmp_path):
    """The check can fail: with jupyterquiz moved back to ``dev``, the quiz cell fails."""
    text = (ROOT / "pyproject.toml").read_text()
    moved = text.replace('    "jupyterquiz>=2.7",\n', "", 1)
    assert moved != text, "jupyterquiz is not a runtime requirement in pyproject.toml"
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(moved.replace("dev = [\n", 'dev = [\n    "jupyterquiz>=2.7",\n', 1))
    done = fresh_run(tmp_path, chapters()[0], pyproject=str(pyproject))
    assert done.returncode != 0
    assert "No module named 'jupyterquiz'" in done.stdout + done.stderr


def _imports(source: str) -> set[str]:
    """Top-level module names a piece of Python imports (at any depth of the code)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _chapter_cells(notebook: Path) -> list[str]:
    """The chapter's code cells, IPython's ``%`` and ``!`` lines made into ``pass``."""
    cells = json.loads(notebook.read_text("utf-8"))["cells"]
    return [
        "\n".join(
            line[: len(line) - len(line.lstrip())] + "pass"
            if line.lstrip().startswith(("%", "!"))
            else line
            for line in "".join(cell["source"]).splitlines()
        )
        for cell in cells
        if cell["cell_type"] == "code"
    ]


def test_every_module_a_chapter_or_the_package_imports_is_a_runtime_requirement():
    """Lazy imports too (inside functions), which no single chapter run reaches."""
    provided = metadata.packages_distributions()
    runtime = set(closure(runtime_requirements(ROOT / "pyproject.toml")))
    sources = [cell for path in chapters() for cell in _chapter_cells(path)]
    sources += [p.read_text("utf-8") for p in (ROOT / "src" / "noise2image").rglob("*.py")]
    missing = {}
    for source in sources:
        for name in _imports(source) - set(sys.stdlib_module_names) - INSTRUCTOR_ONLY:
            dists = {canonicalize_name(d) for d in provided.get(name, [])}
            if name != "noise2image" and not dists & runtime:
                missing[name] = sorted(dists) or ["not installed"]
    assert not missing, f"imported but not in [project] dependencies: {missing}"
