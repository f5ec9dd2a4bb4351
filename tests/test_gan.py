import pytest
import torch
from conftest import tampered_copy

from noise2image import gan
from noise2image.checkpoints import CheckpointError, save_checkpoint
from noise2image.profiles import ParameterError


def tiny(**changes):
    base = dict(epochs=2, limit=256, batch_size=32, ngf=8, ndf=8, seed=0)
    base.update(changes)
    return gan.GANConfig(**base)


@pytest.mark.parametrize(
    ("config", "noise_shape", "image_shape"),
    [
        (tiny(), (4, 100), (4, 1, 28, 28)),
        (tiny(dataset="openmoji", conditional=False), (4, 100), (4, 3, 64, 64)),
    ],
)
def test_shapes_and_ranges(config, noise_shape, image_shape):
    G, D = gan.Generator(config), gan.Discriminator(config)
    labels = torch.arange(4) if config.conditional else None
    images = G(torch.randn(noise_shape), labels)
    assert images.shape == image_shape and images.abs().max() <= 1
    assert D(images, labels).shape == (4,)


def test_dcgan_initialisation():
    G = gan.Generator(tiny(ngf=64))
    conv = G.blocks[1][0].weight
    norm = G.blocks[1][1].weight
    assert abs(conv.std().item() - 0.02) < 0.002 and abs(conv.mean().item()) < 0.002
    assert abs(norm.mean().item() - 1) < 0.01 and abs(norm.std().item() - 0.02) < 0.01


def test_bad_configs_name_the_allowed_values():
    with pytest.raises(ParameterError, match="'mnist5k', 'openmoji'"):
        gan.GANConfig(dataset="cifar")
    with pytest.raises(ParameterError, match="'none', 'strong_discriminator', 'mode_collapse'"):
        gan.GANConfig(failure="explode")
    with pytest.raises(ParameterError, match="epochs"):
        gan.GANConfig(epochs=-1)
    with pytest.raises(ValueError, match="labels"):
        gan.GANConfig(dataset="openmoji", conditional=True)


def test_training_changes_the_generator_and_keeps_a_trace():
    config = tiny()
    result = gan.train_gan(config, progress=False, evaluate=False, log=False)
    assert [row["epoch"] for row in result.trace] == [1, 2]
    assert set(result.trace[0]) >= {"loss_D", "loss_G", "D(x)", "D(G(z))"}
    assert 0 < result.trace[-1]["D(x)"] < 1
    assert result.snapshots.shape == (2, 64, 1, 28, 28)
    assert not torch.equal(result.snapshots[0], result.snapshots[1])


def test_same_seed_same_run():
    a = gan.train_gan(tiny(epochs=1), progress=False, evaluate=False, log=False)
    b = gan.train_gan(tiny(epochs=1), progress=False, evaluate=False, log=False)
    assert torch.equal(a.snapshots, b.snapshots)


def test_interrupted_training_resumes_from_the_last_epoch(tmp_path, monkeypatch):
    path = tmp_path / "gan.pt"
    config = tiny(epochs=3)
    calls = {"n": 0}
    real_step = gan.train_step

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 8 + 4:  # 8 steps an epoch: stop in the middle of epoch 2
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(gan, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        gan.train_gan(config, checkpoint=path, progress=False, evaluate=False, log=False)
    monkeypatch.setattr(gan, "train_step", real_step)
    assert path.exists() and not list(tmp_path.glob(".*tmp"))
    resumed = gan.train_gan(config, checkpoint=path, progress=False, evaluate=False, log=False)
    straight = gan.train_gan(config, progress=False, evaluate=False, log=False)
    assert [r["epoch"] for r in resumed.trace] == [1, 2, 3]
    assert torch.allclose(resumed.snapshots, straight.snapshots, atol=1e-5)


def test_train_or_load_reuses_and_refuses_bad_checkpoints(tmp_cache, capsys):
    config = tiny(epochs=1)
    first = gan.train_or_load(config, progress=False)
    assert not first.loaded
    again = gan.train_or_load(config, progress=False)
    assert again.loaded and torch.equal(again.snapshots, first.snapshots)
    path = gan.checkpoint_path(config)
    path.write_bytes(path.read_bytes()[:100])  # corrupt
    retrained = gan.train_or_load(config, progress=False)
    assert not retrained.loaded and "cannot be used" in capsys.readouterr().out
    save_checkpoint(path, {"generator": {}}, {"other": "config"})  # mismatched
    assert not gan.train_or_load(config, progress=False).loaded
    with pytest.raises(CheckpointError):
        gan.load_checkpoint(path, config={"other": "value"})


def test_sampling_interpolation_and_layer_trace():
    config = tiny()
    G = gan.Generator(config)
    pictures = gan.sample(G, 10, seed=1)
    assert pictures.shape == (10, 1, 28, 28)
    assert torch.equal(pictures, gan.sample(G, 10, seed=1))
    path = gan.interpolate(G, torch.zeros(100), torch.ones(100), steps=5, label=3)
    assert path.shape == (5, 1, 28, 28)
    steps = gan.layer_trace(G, torch.randn(1, 100), torch.tensor([7]))
    assert [tuple(t.shape) for _, t in steps] == [
        (1, 110, 1, 1),
        (1, 32, 7, 7),
        (1, 16, 14, 14),
        (1, 1, 28, 28),
    ]


def test_failure_settings_change_the_schedule():
    assert gan._schedule(tiny(failure="strong_discriminator"))[2] == 3
    collapse = tiny(failure="mode_collapse")
    assert gan._schedule(collapse)[3] == 5 and collapse.n_classes == 0


def test_shipped_digit_gan_meets_the_course_targets():
    from noise2image import data, features, metrics

    shipped = gan.load_shipped_digits()
    assert shipped.config == gan.SHIPPED_DIGITS and len(shipped.trace) == gan.SHIPPED_DIGITS.epochs
    net = features.load_feature_net()
    test = data.load_dataset("mnist5k", "test").images[:500]
    train = data.load_dataset("mnist5k", "train").images[:500]
    fake = data.denormalise(gan.sample(shipped.generator, 500, seed=1))
    baseline = metrics.fid(test, train, net)
    assert metrics.recognisability(fake, net) >= 0.8
    assert metrics.fid(test, fake, net) <= 10 * baseline
    # the label is obeyed: the classifier reads most digits as the digit asked for
    asked = torch.arange(500) % 10
    assert (net(fake).argmax(1) == asked).float().mean() > 0.9


def test_shipped_gan_checksum_is_enforced(tmp_path, monkeypatch):
    path, meta = gan._shipped_files()
    copy = tampered_copy(path, tmp_path)
    monkeypatch.setattr(gan, "_shipped_files", lambda name="digits": (copy, meta))
    with pytest.raises(CheckpointError, match="checksum"):
        gan.load_shipped_digits()
