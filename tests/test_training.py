"""What every training loop shares: resumable checkpoints, moving averages, frozen networks."""

import torch
from torch import nn

from noise2image import training


def test_load_finished_keeps_unfinished_runs_and_removes_bad_ones(tmp_path, capsys):
    import json

    from conftest import tampered_copy

    from noise2image.checkpoints import save_checkpoint
    from noise2image.training import load_finished

    path = tmp_path / "run.pt"
    assert load_finished(path, {"a": 1}, epochs=2) is None
    save_checkpoint(path, {"trace": json.dumps([{"epoch": 1}])}, {"a": 1})
    assert load_finished(path, {"a": 1}, epochs=2) is None and path.exists()  # resumable
    save_checkpoint(path, {"trace": json.dumps([{"epoch": 1}, {"epoch": 2}])}, {"a": 1})
    assert json.loads(load_finished(path, {"a": 1}, epochs=2)["trace"])[-1] == {"epoch": 2}
    assert load_finished(path, {"a": 2}, epochs=2) is None and not path.exists()  # mismatch
    save_checkpoint(path, {"trace": "[]"}, {"a": 1})
    tampered_copy(path, tmp_path)
    assert load_finished(path, {"a": 1}, epochs=0) is None and not path.exists()  # corrupt
    assert capsys.readouterr().out.count("cannot be used") == 2


def test_save_progress_and_resume_restore_parts_generators_and_trace(tmp_path, capsys):
    path = tmp_path / "run.pt"
    torch.manual_seed(0)
    net, rng = nn.Linear(3, 2), torch.Generator().manual_seed(5)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    torch.rand(3, generator=rng)
    trace = [{"epoch": 1, "loss": 0.5}]
    training.save_progress(
        path, {"a": 1}, {"net": net, "opt": opt}, rng, trace, extra=torch.ones(2)
    )
    expected_draw = torch.rand(2, generator=rng)
    fresh_net, fresh_rng = nn.Linear(3, 2), torch.Generator()
    fresh_opt = torch.optim.Adam(fresh_net.parameters(), lr=0.1)
    parts = {"net": fresh_net, "opt": fresh_opt}
    got, state = training.resume(path, {"a": 1}, parts, fresh_rng)
    assert got == trace and torch.equal(state["extra"], torch.ones(2))
    assert torch.equal(fresh_net.weight, net.weight)
    assert fresh_opt.state_dict()["state"][0]["step"] == 1
    assert torch.equal(torch.rand(2, generator=fresh_rng), expected_draw)
    assert "resuming from" in capsys.readouterr().out
    # another configuration, or no file: start from the beginning
    assert training.resume(path, {"a": 2}, parts, fresh_rng) == ([], {})
    assert training.resume(tmp_path / "none.pt", {"a": 1}, parts, fresh_rng) == ([], {})


def test_update_average_moves_towards_the_model_and_warms_up():
    model, average = nn.Linear(2, 2), nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.fill_(1.0)
        average.weight.fill_(0.0)
    training.update_average(average, model, decay=0.9)
    assert torch.allclose(average.weight, torch.full((2, 2), 0.1))
    # warm-up: at step 0 the decay is at most 1/10, so the average jumps most of the way
    average.weight.data.fill_(0.0)
    training.update_average(average, model, decay=0.999, step=0)
    assert torch.allclose(average.weight, torch.full((2, 2), 0.9))
    norm, copy = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    norm.running_mean.fill_(3.0)
    training.update_average(copy, norm, decay=0.99)
    assert torch.equal(copy.running_mean, norm.running_mean)  # buffers are copied


def test_frozen_stops_weight_gradients_and_restores_the_flags():
    net = nn.Linear(2, 1)
    net.bias.requires_grad_(False)
    with training.frozen(net):
        assert not any(p.requires_grad for p in net.parameters())
        x = torch.randn(3, 2, requires_grad=True)
        net(x).sum().backward()
    assert net.weight.grad is None and x.grad is not None
    assert net.weight.requires_grad and not net.bias.requires_grad
