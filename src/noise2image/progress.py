"""Progress bars that leave a record in a notebook, also when the notebook is read offline.

``tqdm.auto`` draws an ipywidgets bar in a notebook. Its picture lives in the widget, so an
executed notebook read without the widget JavaScript (the book offline, a notebook viewer)
shows nothing where the bar was. :func:`progress_bar` draws the same tqdm bar as plain text
into one display output and redraws that output in place (a display-data update), so a
live notebook shows it moving and the stored notebook keeps the final line, such as chapter
3's ``feature net: 100%|██████████| 756/756 [01:43<00:00,  7.30it/s]`` in a ``full`` build.
Outside a notebook it is tqdm's ordinary bar on standard error.
"""

from __future__ import annotations

from collections.abc import Iterable


class _DisplayLine:
    """A file-like object for tqdm: each bar redraw replaces one display output's text."""

    encoding = "utf-8"  # tqdm draws its Unicode blocks only for a UTF-8 file

    def __init__(self):
        self.handle = None
        self.text = None

    def write(self, s: str) -> None:
        line = s.rstrip("\n").split("\r")[-1].rstrip()
        if not line or line == self.text:
            return  # a newline, or tqdm wiping the line of a bar with leave=False
        from IPython.display import display

        self.text = line
        if self.handle is None:
            self.handle = display({"text/plain": line}, raw=True, display_id=True)
        else:
            self.handle.update({"text/plain": line}, raw=True)

    def flush(self) -> None:
        pass


def in_notebook() -> bool:
    """True inside a Jupyter kernel (a notebook front end, papermill, the book build)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def progress_bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    disable: bool = False,
):
    """A tqdm bar: text redrawn in place in a notebook, tqdm's own bar elsewhere."""
    from tqdm import tqdm

    if disable or not in_notebook():
        return tqdm(iterable, total=total, desc=desc, disable=disable)
    # at most two redraws a second: each one is a message to the notebook
    return tqdm(iterable, total=total, desc=desc, file=_DisplayLine(), mininterval=0.5)
