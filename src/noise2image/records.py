"""What a chapter records for its prose, its tests and sweeps: numbers and words, by name.

>>> from noise2image import records
>>> records.glue("fid", 12.3)                      # the prose shows it: {glue:text}`fid:.1f`
>>> records.record("metrics", {"FID": 12.3, "IS": 2.1})   # a table row, shown nowhere

Both write myst-nb's glue format (scrapbook's), so the book neither shows nor warns about
them; :func:`recorded` reads them back from an executed notebook (or the ``.glue.json``
file a book build leaves beside it). The course's tests compare what a chapter recorded
with the expected numbers kept in its repository; sweeps gather one record per run.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["RECORD_PREFIX", "counted", "glue", "record", "recorded"]

# the output format of myst-nb's glue (and scrapbook): the book build hides these outputs
RECORD_PREFIX = "application/papermill.record/"
_RECORD_MIME = RECORD_PREFIX + "text/plain"  # the value as a JSON string


def _plain(value: Any) -> Any:
    """A number or word as plain Python (numpy and torch scalars included)."""
    if value is None or isinstance(value, str):
        return value
    for kind in (bool, int, float):  # numpy's float64 is a float, but its repr is not plain
        if isinstance(value, kind):
            return kind(value)
    if hasattr(value, "item"):  # numpy or torch scalar
        return _plain(value.item())
    raise TypeError(f"glue a number or a word, not {type(value).__name__}")


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """A count and its noun, for a glued phrase that reads under every profile:

    >>> counted(1, "step"), counted(90, "step"), counted(0, "pass", "passes")
    ('1 step', '90 steps', '0 passes')
    """
    n = int(n)
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def glue(name: str, value: Any) -> None:
    """Glue one number or word of the running notebook for its prose (shown nowhere else).

    A markdown cell shows it with myst-nb's role: ``{glue:text}`name:.1f``` (a format
    specification after the colon). The value is also recorded (:func:`recorded`), so the
    tests compare it with the expected numbers kept in ``tests/expected``. Verdicts are
    glued as words computed by the cell (``"held"``, ``"lower"``), never typed in prose.
    """
    from IPython.display import display

    value = _plain(value)
    metadata = {"scrapbook": {"name": name, "mime_prefix": RECORD_PREFIX}}
    display({_RECORD_MIME: repr(value)}, raw=True, metadata=metadata)


def record(name: str, value: Mapping[str, Any]) -> None:
    """Record ``value`` (a dict of JSON-able numbers and strings) in the running notebook's
    output under ``name``, invisibly, for :func:`recorded` and sweeps to read back.

    It uses myst-nb's glue format, so the book neither shows it nor warns about it.
    """
    from IPython.display import display

    text = json.dumps(dict(value))  # fails here, not in the reader, if it is not JSON-able
    metadata = {"scrapbook": {"name": name, "mime_prefix": RECORD_PREFIX}}
    display({_RECORD_MIME: text}, raw=True, metadata=metadata)


def _parse(text: str | list[str]) -> Any:
    text = "".join(text) if isinstance(text, list) else text
    try:
        return json.loads(text)
    except json.JSONDecodeError:  # a glued word: Python's repr
        return ast.literal_eval(text)


def recorded(notebook: str | Path) -> dict[str, Any]:
    """Everything an executed notebook recorded with :func:`record` or :func:`glue`, by name.

    Papermill keeps the records in the notebook's outputs; a book build (myst-nb) moves them
    to ``STEM.glue.json`` beside the executed notebook, which is read too.
    """
    import nbformat

    notebook = Path(notebook)
    found: dict[str, Any] = {}
    for cell in nbformat.read(str(notebook), as_version=4).cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None and _RECORD_MIME in output.get("data", {}):
                found[name] = _parse(output["data"][_RECORD_MIME])
    glued = notebook.with_name(f"{notebook.stem}.glue.json")
    if glued.exists():
        for name, output in json.loads(glued.read_text()).items():
            data = output.get("data", {})
            text = data.get(_RECORD_MIME, data.get("text/plain"))
            if text is not None and name not in found:
                found[name] = _parse(text)
    return found
