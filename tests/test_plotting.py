import matplotlib.pyplot as plt
import pytest
import torch

from noise2image import plotting


def test_to_display_maps_tanh_range_to_unit_range():
    x = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    assert torch.equal(plotting.to_display(x, (-1, 1)), torch.tensor([0.0, 0.5, 1.0, 1.0]))


@pytest.mark.parametrize("channels", [1, 3])
def test_image_grid_shape_and_range(channels):
    images = torch.rand(10, channels, 28, 28)
    grid = plotting.image_grid(images, nrow=5, padding=2)
    assert grid.shape == (2 * 30 + 2, 5 * 30 + 2, 3)
    assert grid.min() >= 0 and grid.max() <= 1


def test_show_panels_draws_one_grid_per_entry():
    fig = plotting.show_panels({"before": torch.rand(4, 1, 8, 8), "after": torch.rand(4, 1, 8, 8)})
    assert [ax.get_title() for ax in fig.axes] == ["before", "after"]
    plt.close(fig)


def width_px(fig) -> float:
    return fig.get_figwidth() * fig.dpi


def test_a_digit_grid_fits_the_column_with_digits_big_enough_to_see():
    digits = torch.rand(40, 1, 28, 28)
    ax = plotting.show_grid(digits, nrow=10)
    assert width_px(ax.figure) <= plotting.COLUMN_PX
    assert plotting.drawn_px(digits, nrow=10) >= plotting.MIN_IMAGE_PX
    plt.close(ax.figure)
    few = plotting.show_grid(digits[:2], nrow=10)  # two digits are not blown up to the column
    assert width_px(few.figure) <= 2 * plotting.MAX_SCALE * 30 + 1
    plt.close(few.figure)


def test_a_grid_too_dense_to_see_is_refused():
    with pytest.raises(ValueError, match="fewer images per row"):
        plotting.show_grid(torch.rand(40, 1, 28, 28), nrow=40)
    with pytest.raises(ValueError, match="64×64"):  # emoji need their own 64 pixels
        plotting.show_grid(torch.rand(20, 3, 64, 64), nrow=20)


def test_panels_of_many_digits_are_stacked_one_per_row():
    fig = plotting.show_panels({"a": torch.rand(12, 1, 28, 28), "b": torch.rand(12, 1, 28, 28)})
    top, bottom = (ax.get_position() for ax in fig.axes)
    assert bottom.y1 <= top.y0 and width_px(fig) <= plotting.COLUMN_PX
    plt.close(fig)
    fig = plotting.show_panels({f"{n}": torch.rand(1, 1, 28, 28) for n in range(4)})
    assert len({round(ax.get_position().y0, 3) for ax in fig.axes}) == 1  # single pictures: a row
    plt.close(fig)


def test_captioned_pictures_fit_the_column():
    fig = plotting.show_captioned(torch.rand(12, 3, 64, 64), ["an emoji"] * 12, ncol=6)
    assert width_px(fig) <= plotting.COLUMN_PX
    plt.close(fig)


def test_show_captioned_titles_are_the_captions():
    fig = plotting.show_captioned(torch.rand(3, 3, 8, 8), ["a cat", "a dog", "a fish"], ncol=3)
    assert [ax.get_title() for ax in fig.axes] == ["a cat", "a dog", "a fish"]
    plt.close(fig)


def test_trace_table_and_show_source():
    table = plotting.trace_table([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.4}], "epoch")
    assert list(table.index) == [1, 2] and list(table["loss"]) == [0.5, 0.4]
    code = plotting.show_source(plotting.to_display)
    assert "def to_display" in code.data and "def to_display" in repr(code)
    assert code._repr_html_().startswith('<div class="source-listing">')  # wraps in the book


def test_formatted_table_is_plain_strings():
    table = plotting.trace_table([{"run": "a", "acc": 0.91234, "fid": 3.14159}], "run")
    shown = plotting.formatted(table, {"acc": "{:.1%}", "fid": "{:.2f}"})
    assert shown.loc["a", "acc"] == "91.2%" and shown.loc["a", "fid"] == "3.14"
    assert table.loc["a", "acc"] == 0.91234  # the original is untouched
