"""The code the book shows is the code that works: every ``plotting.show_source(...)`` target
in a chapter is a public name of the package, listed in its module's ``__all__``, and short
enough to read (at most 40 lines). The rule holds for every chapter, present and future."""

import importlib
import inspect
import re

import nbformat
import pytest

from noise2image.runner import chapters

PATTERN = re.compile(r"show_source\(\s*([\w.]+)\s*\)")
MAX_LINES = 40


def shown():
    found = []
    for path in chapters():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                found += [(path.stem, target) for target in PATTERN.findall(cell.source)]
    return found


def resolve(target: str):
    """``module.name`` of the package; chapters 8-9 name the modules of the ``diffusion``
    subpackage the same way (``train.train_step``, ``pipeline.classifier_free_guidance``)."""
    module_name, *attributes = target.split(".")
    try:
        module = importlib.import_module(f"noise2image.{module_name}")
    except ModuleNotFoundError:
        module = importlib.import_module(f"noise2image.diffusion.{module_name}")
    obj = module
    for attribute in attributes:
        obj = getattr(obj, attribute)
    return module, attributes, obj


def test_the_chapters_show_source():
    assert len(shown()) >= 5


@pytest.mark.parametrize(("chapter", "target"), shown(), ids=lambda x: str(x))
def test_shown_code_is_public_short_and_does_the_work(chapter, target):
    module, attributes, obj = resolve(target)
    assert not any(part.startswith("_") for part in attributes), f"{target} is private"
    assert attributes[0] in module.__all__, f"{attributes[0]} is not in {module.__name__}.__all__"
    source = inspect.getsource(obj)
    lines = source.strip().splitlines()
    assert len(lines) <= MAX_LINES, f"{chapter} shows {target}: {len(lines)} lines"
    # not a one-line delegation: the shown function has a body of its own
    body = [line for line in lines if line.strip() and not line.strip().startswith(("#", '"'))]
    assert len(body) >= 4, f"{target} only delegates"


def test_a_private_or_long_target_would_fail():
    from noise2image import metrics, regression

    _, attributes, _ = resolve("metrics.clarity_score")
    assert attributes[0] in metrics.__all__
    assert "_gradients" not in metrics.__all__
    assert len(inspect.getsource(regression.train_regression).splitlines()) > MAX_LINES
