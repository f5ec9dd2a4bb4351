"""The package's architecture as a test: import-linter's contracts (pyproject.toml) hold for
the checkout, and they are not decoration -- a deliberate cycle, a stage importing a command
and the library importing the repository's tools each break them. And the package reads no
path outside itself: it imports and loads its shipped models with the repository gone."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import ROOT

LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the copy of the package and tools under ``root``."""
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}"}
    return subprocess.run(
        [str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )


def copy_of_the_checkout(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "checkpoints", "quizzes", "*.egg-info")
    shutil.copytree(ROOT / "src", root / "src", ignore=ignore)
    shutil.copytree(ROOT / "tools", root / "tools", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", root)
    return root


def test_the_checkout_keeps_every_contract():
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    "module, line, broken",
    [
        # a cycle between two siblings (the one the GAN's retraining command used to make)
        ("gan.py", "from . import generate", "No import cycles"),
        # a shared piece that reaches up into a command
        ("profiles.py", "from . import sweeps", "Commands above the chapters' stages"),
        # chapter 9's reward reaching into its comparison
        ("diffusion/reward.py", "from . import comparison", "Inside diffusion"),
        # the library reaching for the repository's tools
        ("records.py", "import tools.expected", "never imports the repository's tools"),
        # the text-to-image model on top of the GAN
        ("diffusion/captions.py", "from .. import gan", "does not depend on the GAN"),
    ],
)
def test_a_deliberate_break_fails_the_contracts(tmp_path, module, line, broken):
    root = copy_of_the_checkout(tmp_path)
    target = root / "src" / "noise2image" / module
    target.write_text(target.read_text() + f"\n\ndef _deliberate():\n    {line}\n")
    done = lint(root)
    assert done.returncode != 0, done.stdout[-3000:]
    report = done.stdout.replace("\n", " ")
    assert f"{broken}" in report and "BROKEN" in report, report[-3000:]
    assert line.split()[-1].split(".")[-1] in done.stdout  # the import is named


def test_the_package_imports_and_loads_with_the_repository_moved_away(tmp_path):
    """A copy of ``src/noise2image`` alone (no tests/, tools/, notebooks/, _config.yml above
    it) put first on the path: every module imports and every shipped model verifies and
    loads. The copy's own ``__file__`` is checked, so the checkout cannot stand in for it."""
    alone = tmp_path / "site"
    shutil.copytree(
        ROOT / "src" / "noise2image",
        alone / "noise2image",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    script = f"""
import importlib, pkgutil, sys
sys.path.insert(0, {str(alone)!r})
import noise2image, noise2image.shipped as shipped
assert noise2image.__file__.startswith({str(alone)!r}), noise2image.__file__
names = [m.name for m in pkgutil.walk_packages(noise2image.__path__, "noise2image.")]
for name in names:
    module = importlib.import_module(name)
    assert module.__file__.startswith({str(alone)!r}), module.__file__
for name in shipped.MODELS:
    shipped.verify(name)
    shipped.load(name)
assert not any(m == "tools" or m.startswith("tools.") for m in sys.modules)
print(len(names))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    modules = [p for p in (alone / "noise2image").rglob("*.py") if p.parent != alone]
    assert int(done.stdout.split()[-1]) == len(modules) - 1  # all but noise2image itself
