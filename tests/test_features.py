import json

import pytest
import torch
from conftest import tampered_copy

from noise2image import checkpoints, features
from noise2image.checkpoints import CheckpointError
from noise2image.data import load_dataset
from noise2image.profiles import ParameterError


@pytest.fixture(scope="module")
def net():
    return features.load_feature_net()


def test_shipped_network_is_at_least_97_percent_accurate_on_the_test_split(net):
    test = load_dataset("mnist5k", "test")
    accuracy = features.evaluate(net, test.images, test.labels)
    assert accuracy >= 0.97
    meta = json.loads(checkpoints.shipped_files("feature_net")[1].read_text())
    assert abs(accuracy - meta["test_accuracy"]) < 1e-9


def test_feature_map_shapes(net):
    with torch.no_grad():
        logits, maps = net(torch.rand(2, 1, 64, 64), return_features=True)
        assert maps["block2"].shape == (2, 64, 16, 16)  # the pipeline's 16x16x64 stage
        assert maps["embedding"].shape == (2, 128) and logits.shape == (2, 10)
        _, maps = net(torch.rand(2, 1, 28, 28), return_features=True)
        assert maps["block2"].shape == (2, 64, 7, 7)
        assert net(torch.rand(2, 3, 28, 28)).shape == (2, 10)  # colour is made grey


def test_tampered_shipped_network_is_refused(tmp_path, monkeypatch):
    path, meta = checkpoints.shipped_files("feature_net")
    copy = tampered_copy(path, tmp_path)
    monkeypatch.setattr(checkpoints, "shipped_files", lambda stem: (copy, meta))
    with pytest.raises(CheckpointError, match="checksum"):
        features.load_feature_net()


def test_short_training_beats_chance_by_far():
    train = load_dataset("mnist5k", "train")
    val = load_dataset("mnist5k", "val")
    config = features.FeatureConfig(epochs=2, seed=0)
    model, trace = features.train_feature_net(
        config, (train.images[:1500], train.labels[:1500]), (val.images, val.labels), progress=False
    )
    assert len(trace) == 2 and trace[-1]["loss"] < trace[0]["loss"]
    assert trace[-1]["val acc"] > 0.5  # chance is 0.1


def test_bad_config_is_refused():
    with pytest.raises(ParameterError, match="epochs"):
        features.FeatureConfig(epochs=0)
    with pytest.raises(ParameterError, match="lr"):
        features.FeatureConfig(lr=-1)


def test_filters_find_edges():
    step = torch.zeros(1, 1, 8, 8)
    step[..., 4:] = 1.0  # a vertical edge
    sobel_x = features.apply_filter(step, features.FILTERS["sobel x (vertical edges)"])
    sobel_y = features.apply_filter(step, features.FILTERS["sobel y (horizontal edges)"])
    assert sobel_x.abs().sum() > 0 and sobel_y.abs().sum() == 0
    flat = torch.full((1, 3, 8, 8), 0.5)
    assert features.apply_filter(flat, features.FILTERS["laplacian (all edges)"]).abs().max() < 1e-6


def test_outliers_are_not_digits():
    generator = torch.Generator().manual_seed(0)
    pictures = torch.rand(5, 1, 28, 28)
    out = features.make_outliers(30, 28, generator, pictures)
    assert out.shape == (30, 1, 28, 28) and 0 <= out.min() and out.max() <= 1


def test_edge_likeness_recognises_turned_sobel_filters():
    sobel = features.FILTERS["sobel x (vertical edges)"]
    turned = features.FILTERS["sobel y (horizontal edges)"]
    flat = torch.full((3, 3), 0.5)
    flat[1, 1] = 0.6  # a dot: not an edge
    scores = features.edge_likeness(torch.stack([sobel, -turned, flat]))
    assert scores[0] > 0.99 and scores[1] > 0.99 and scores[2] < 0.3


def test_strongest_maps_are_scaled_and_ordered():
    maps = torch.zeros(5, 4, 4)
    maps[3, 0, 0] = 10.0
    maps[1, 2, 2] = 1.0
    chosen = features.strongest_maps(maps, 2)
    assert chosen.shape == (2, 1, 4, 4) and chosen.max() == 1 and chosen.min() == 0
    # largest spread first: map 3 (peak at 0, 0), then map 1 (peak at 2, 2)
    assert chosen[0, 0, 0, 0] == 1 and chosen[1, 0, 2, 2] == 1
