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


def test_show_captioned_titles_are_the_captions():
    fig = plotting.show_captioned(torch.rand(3, 3, 8, 8), ["a cat", "a dog", "a fish"], ncol=3)
    assert [ax.get_title() for ax in fig.axes] == ["a cat", "a dog", "a fish"]
    plt.close(fig)


def test_trace_table_and_show_source():
    table = plotting.trace_table([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.4}], "epoch")
    assert list(table.index) == [1, 2] and list(table["loss"]) == [0.5, 0.4]
    code = plotting.show_source(plotting.to_display)
    assert "def to_display" in code.data


def test_formatted_table_is_plain_strings():
    table = plotting.trace_table([{"run": "a", "acc": 0.91234, "fid": 3.14159}], "run")
    shown = plotting.formatted(table, {"acc": "{:.1%}", "fid": "{:.2f}"})
    assert shown.loc["a", "acc"] == "91.2%" and shown.loc["a", "fid"] == "3.14"
    assert table.loc["a", "acc"] == 0.91234  # the original is untouched
