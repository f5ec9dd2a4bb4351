import pytest
import torch

from noise2image import gan, generate
from noise2image.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
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
    with pytest.raises(ParameterError, match="labels"):
        gan.GANConfig(dataset="openmoji", conditional=True)


def test_training_changes_the_generator_and_keeps_a_trace():
    config = tiny()
    result = gan.train_gan(config, progress=False, evaluate=False, log=False)
    assert [row["epoch"] for row in result.trace] == [1, 2]
    assert set(result.trace[0]) >= {"loss_D", "loss_G", "D(x)", "D(G(z))"}
    # the discriminator already tells them apart: real pictures get the higher verdict
    assert result.trace[-1]["D(x)"] > result.trace[-1]["D(G(z))"] + 0.1
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
    # a loaded generator draws exactly what the trained one drew (same memory layout)
    assert torch.equal(generate.sample(again.generator, 8), generate.sample(first.generator, 8))
    path = gan.checkpoint_path(config)
    path.write_bytes(path.read_bytes()[:100])  # corrupt
    retrained = gan.train_or_load(config, progress=False)
    assert not retrained.loaded and "cannot be used" in capsys.readouterr().out
    save_checkpoint(path, {"generator": {}}, {"other": "config"})  # mismatched
    assert not gan.train_or_load(config, progress=False).loaded
    with pytest.raises(CheckpointError):
        load_checkpoint(path, config={"other": "value"})


def test_failure_settings_change_the_schedule():
    assert gan._schedule(tiny(failure="strong_discriminator"))[2] == 3
    collapse = tiny(failure="mode_collapse")
    assert gan._schedule(collapse)[3] == 5 and collapse.n_classes == 0


def test_discriminator_step_moves_only_the_discriminator():
    config = tiny()
    G, D = gan.Generator(config), gan.Discriminator(config)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
    labels = torch.arange(8) % 10
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    fake = G(torch.randn(8, 100), labels)
    g_before = [p.detach().clone() for p in G.parameters()]
    d_before = [p.detach().clone() for p in D.parameters()]
    loss, logits_real, logits_fake = gan.discriminator_step(D, opt_d, real, fake, labels, 0.9)
    assert loss.item() > 0 and logits_real.shape == logits_fake.shape == (8,)
    assert all(p.grad is None for p in G.parameters())  # fake was detached
    assert all(torch.equal(a, p) for a, p in zip(g_before, G.parameters(), strict=True))
    assert any(not torch.equal(a, p) for a, p in zip(d_before, D.parameters(), strict=True))


def test_train_step_leaves_d_without_gradients_from_the_generator_step(monkeypatch):
    config = tiny()
    G, D = gan.Generator(config), gan.Discriminator(config)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    labels = torch.arange(8) % 10
    after_d_step = {}
    real_step = gan.discriminator_step

    def recording(*args, **kwargs):
        out = real_step(*args, **kwargs)
        after_d_step["grads"] = [p.grad.clone() for p in D.parameters()]
        return out

    monkeypatch.setattr(gan, "discriminator_step", recording)
    stats = gan.train_step(G, D, opt_g, opt_d, real, labels, config, torch.Generator())
    assert set(stats) == {"loss_D", "loss_G", "D(x)", "D(G(z))"}
    # the generator's step ran with D frozen: D's gradients are still those of its own step
    for grad, p in zip(after_d_step["grads"], D.parameters(), strict=True):
        assert torch.equal(grad, p.grad)
    assert all(p.requires_grad for p in D.parameters())  # and D is trainable again
    assert all(p.grad is not None for p in G.parameters())


def test_layer_table_traces_every_block_without_random_numbers():
    config = gan.GANConfig()
    G, D = gan.Generator(config), gan.Discriminator(config)
    z, label = torch.randn(1, gan.NZ), torch.tensor([3])
    state = torch.random.get_rng_state()
    table = gan.layer_table(G, (z, label), "noise + label")
    assert torch.equal(state, torch.random.get_rng_state())
    assert list(table.index) == ["input"] + [f"block {i}" for i in range(1, len(G.blocks) + 1)]
    assert table.loc["input", "output shape"] == (1, gan.NZ + gan.N_CLASSES, 1, 1)
    assert table["output shape"].iloc[-1] == (1, 1, 28, 28)
    assert table["parameters"].sum() == sum(p.numel() for p in G.blocks.parameters())
    picture = G(z, label).detach()
    assert gan.layer_table(D, (picture, label), "picture")["output shape"].iloc[-1][-1] == 1
