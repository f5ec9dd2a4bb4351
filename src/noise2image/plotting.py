"""Figures and tables every chapter uses: image grids, before/after panels, trace tables.

All image functions take torch tensors in the course's layout, ``(N, C, H, W)`` with
values in ``[0, 1]`` (pass ``value_range=(-1, 1)`` for a Tanh generator's output), and
draw with matplotlib; grids are made by torchvision's ``make_grid``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torchvision.utils import make_grid

__all__ = [
    "to_display",
    "image_grid",
    "show_grid",
    "show_panels",
    "show_captioned",
    "trace_table",
    "formatted",
    "show_source",
]


def to_display(images: torch.Tensor, value_range: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """Map ``value_range`` to ``[0, 1]`` and clamp: what ``imshow`` expects of floats."""
    low, high = value_range
    return ((images.detach().float().cpu() - low) / (high - low)).clamp_(0, 1)


def image_grid(
    images: torch.Tensor,
    nrow: int = 8,
    value_range: tuple[float, float] = (0.0, 1.0),
    padding: int = 2,
    pad_value: float = 1.0,
) -> np.ndarray:
    """``(N, C, H, W)`` -> one ``(H', W', 3)`` float array in [0, 1], ready for ``imshow``."""
    if images.ndim == 3:  # one image
        images = images.unsqueeze(0)
    grid = make_grid(
        to_display(images, value_range), nrow=nrow, padding=padding, pad_value=pad_value
    )
    return grid.permute(1, 2, 0).numpy()


def show_grid(
    images: torch.Tensor,
    nrow: int = 8,
    title: str | None = None,
    ax: plt.Axes | None = None,
    value_range: tuple[float, float] = (0.0, 1.0),
    size: float = 6.0,
) -> plt.Axes:
    """Show a batch of images as one grid."""
    if ax is None:
        _, ax = plt.subplots(figsize=(size, size * _aspect(images, nrow)))
    ax.imshow(image_grid(images, nrow, value_range), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def _aspect(images: torch.Tensor, nrow: int) -> float:
    n = images.shape[0] if images.ndim == 4 else 1
    rows = -(-n // min(nrow, n))
    return rows / min(nrow, n) * images.shape[-2] / images.shape[-1]


def show_panels(
    panels: Mapping[str, torch.Tensor],
    nrow: int = 8,
    value_range: tuple[float, float] = (0.0, 1.0),
    size: float = 4.0,
    suptitle: str | None = None,
) -> plt.Figure:
    """Grids side by side, one per ``{title: images}`` entry (before/after comparisons)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size), squeeze=False)
    for ax, (title, images) in zip(axes[0], panels.items(), strict=True):
        show_grid(images, nrow=nrow, title=title, ax=ax, value_range=value_range)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_captioned(
    images: torch.Tensor,
    captions: Sequence[str],
    ncol: int = 6,
    value_range: tuple[float, float] = (0.0, 1.0),
    width: int = 18,
) -> plt.Figure:
    """Images with their captions (or labels) underneath, wrapped at ``width`` characters."""
    import textwrap

    n = len(captions)
    nrows = -(-n // ncol)
    fig, axes = plt.subplots(nrows, ncol, figsize=(1.8 * ncol, 2.1 * nrows), squeeze=False)
    shown = to_display(images[:n], value_range)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(shown[i].permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title("\n".join(textwrap.wrap(str(captions[i]), width)[:2]), fontsize=8)
    fig.tight_layout()
    return fig


def trace_table(rows: Sequence[Mapping[str, object]], index: str | None = None) -> pd.DataFrame:
    """A list of per-step dicts as a table (one row per epoch, stage or run)."""
    table = pd.DataFrame(list(rows))
    if index is not None:
        table = table.set_index(index)
    return table


def formatted(table: pd.DataFrame, formats: Mapping[str, str]) -> pd.DataFrame:
    """A copy of ``table`` with the named columns turned into formatted strings.

    ``formatted(scores, {"FID": "{:.2f}", "recognisable": "{:.0%}"})``. Unlike pandas'
    Styler, the result renders the same in every run (no random table ids). Formats for
    columns the table does not have are ignored; missing values (None, NaN) print as "".
    """
    out = table.copy()
    for column, spec in formats.items():
        if column in out:
            out[column] = ["" if pd.isna(v) else spec.format(v) for v in out[column]]
    return out


def show_source(obj: Callable | type) -> object:
    """Display the source of a package function or class, highlighted.

    One source of truth: the chapter shows the code that actually runs.
    """
    source = inspect.getsource(obj)
    try:
        from IPython.display import Code

        return Code(source, language="python")
    except ImportError:  # pragma: no cover - outside Jupyter
        print(source)
        return None
