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
    "COLUMN_PX",
    "MIN_IMAGE_PX",
    "drawn_px",
    "to_display",
    "image_grid",
    "show_grid",
    "show_panels",
    "show_captioned",
    "trace_table",
    "formatted",
    "show_source",
]


COLUMN_PX = 688  # the book's text column at a 1280-pixel-wide window (sphinx-book-theme)
DPI = 100  # figures are drawn at this resolution, so COLUMN_PX / DPI inches fill the column
MIN_IMAGE_PX = 40  # a 28×28 digit drawn smaller than this cannot show what the prose says
MAX_SCALE = 3  # and drawn larger than 3× its own pixels it only gets blockier


def drawn_px(images: torch.Tensor, nrow: int, padding: int = 2) -> float:
    """How many screen pixels one image of a ``show_grid`` gets in the book's column."""
    ncol = min(nrow, _count(images))
    return _grid_width_px(images, ncol, padding) / ncol


def _grid_width_px(images: torch.Tensor, ncol: int, padding: int = 2) -> float:
    side = images.shape[-1] + padding
    return min(COLUMN_PX, ncol * max(MAX_SCALE * side, MIN_IMAGE_PX))


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
    size: float | None = None,
) -> plt.Axes:
    """Show a batch of images as one grid, ``nrow`` images per row.

    Without ``ax`` the figure is as wide as the book's column (narrower for a few images, so
    none is blown up past ``MAX_SCALE`` times its pixels); ``size`` (inches) overrides that.
    """
    if ax is None:
        ncol = min(nrow, _count(images))
        width = size or _grid_width_px(images, ncol) / DPI
        _check_drawn(images, min(width * DPI, COLUMN_PX) / ncol, title)
        height = width * _aspect(images, nrow) + (0.3 if title else 0.0)
        _, ax = plt.subplots(figsize=(width, height), dpi=DPI)
    ax.imshow(image_grid(images, nrow, value_range), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def _count(images: torch.Tensor) -> int:
    return images.shape[0] if images.ndim == 4 else 1


def _check_drawn(images: torch.Tensor, px: float, what: str | None) -> None:
    """Refuse a grid whose images the page would draw too small to see (see STYLE.md)."""
    need = max(MIN_IMAGE_PX, images.shape[-1])
    if px < need - 0.5:
        raise ValueError(
            f"{what or 'grid'}: each {images.shape[-2]}×{images.shape[-1]} image would be drawn "
            f"{px:.0f} px wide in the book's {COLUMN_PX}-px column (at least {need} px are "
            "needed to see it): show fewer images per row (nrow) or fewer images"
        )


def _aspect(images: torch.Tensor, nrow: int) -> float:
    n = images.shape[0] if images.ndim == 4 else 1
    rows = -(-n // min(nrow, n))
    return rows / min(nrow, n) * images.shape[-2] / images.shape[-1]


def show_panels(
    panels: Mapping[str, torch.Tensor],
    nrow: int = 8,
    value_range: tuple[float, float] = (0.0, 1.0),
    size: float | None = None,
    suptitle: str | None = None,
    side_by_side: bool | None = None,
) -> plt.Figure:
    """One grid per ``{title: images}`` entry (before/after comparisons), one panel per row.

    Panels sit side by side only when they all fit the column at ``MIN_IMAGE_PX`` per image
    (``side_by_side=None``, the default) or when asked to; ``size`` (inches) is a panel's
    width.
    """
    grids = list(panels.values())
    ncols = [min(nrow, _count(g)) for g in grids]
    if side_by_side is None:
        one_row = all(_count(g) <= nrow for g in grids)
        side_by_side = one_row and sum(ncols) * 1.5 * MIN_IMAGE_PX <= COLUMN_PX
    if side_by_side:
        width = (
            size
            or min(
                COLUMN_PX / len(grids),
                max(_grid_width_px(g, n) for g, n in zip(grids, ncols, strict=True)),
            )
            / DPI
        )
        height = width * max(_aspect(g, nrow) for g in grids) + 0.4
        fig, axes = plt.subplots(
            1, len(grids), figsize=(width * len(grids), height), dpi=DPI, squeeze=False
        )
        axes = axes[0]
    else:
        width = size or max(_grid_width_px(g, n) for g, n in zip(grids, ncols, strict=True)) / DPI
        heights = [width * _aspect(g, nrow) + 0.35 for g in grids]
        fig, axes = plt.subplots(
            len(grids),
            1,
            figsize=(width, sum(heights)),
            dpi=DPI,
            squeeze=False,
            gridspec_kw={"height_ratios": heights},
        )
        axes = axes[:, 0]
    shrink = min(1.0, COLUMN_PX / (fig.get_figwidth() * DPI))  # the page scales wide figures
    for ax, (title, images), n in zip(axes, panels.items(), ncols, strict=True):
        _check_drawn(images, width * DPI * shrink / n, title)
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
    inches = min(COLUMN_PX, ncol * 140) / DPI  # about 115 px per picture in a full column
    fig, axes = plt.subplots(
        nrows, ncol, figsize=(inches, inches / ncol * 1.3 * nrows), dpi=DPI, squeeze=False
    )
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


class Listing:
    """A highlighted source listing; in the book it wraps its long lines instead of
    scrolling sideways (``book/_static/course.css``: ``.source-listing``)."""

    def __init__(self, source: str):
        self.data = source

    def _repr_html_(self) -> str:
        from IPython.display import Code

        return (
            f'<div class="source-listing">{Code(self.data, language="python")._repr_html_()}</div>'
        )

    def __repr__(self) -> str:
        return self.data


def show_source(obj: Callable | type) -> Listing:
    """Display the source of a package function or class, highlighted.

    One source of truth: the chapter shows the code that actually runs. Chapters put a
    listing of more than ~15 lines in a dropdown (the cell's ``hide-output`` tag).
    """
    return Listing(inspect.getsource(obj))
