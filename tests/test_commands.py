"""Every documented command runs: the README's, the book pages' and the chapters'. Where the
real command takes minutes, the test runs it with a tiny configuration and checks what it
writes (files, checksums, tables), through the same entry point."""

import json
import subprocess
import sys

import pytest
import torch

from noise2image import checkpoints, features, gan, generate, records, runner, shipped
from tools import ROOT, expected


def test_gan_retrain_shipped_writes_a_checkpoint_that_loads_and_checks(tmp_path, monkeypatch):
    # the README's `python -m noise2image.shipped retrain gan-digits`
    tiny = gan.GANConfig(epochs=1, limit=64, ngf=8, ndf=8)
    monkeypatch.setitem(generate.SHIPPED, "digits", tiny)
    monkeypatch.setenv("NOISE2IMAGE_CACHE", str(tmp_path / "cache"))
    files = {"gan_digits": (tmp_path / "gan_digits.pt", tmp_path / "gan_digits.json")}
    real_files = checkpoints.shipped_files
    monkeypatch.setattr(
        checkpoints, "shipped_files", lambda stem: files.get(stem) or real_files(stem)
    )
    assert shipped.main(["retrain", "gan-digits"]) == 0
    meta = json.loads(files["gan_digits"][1].read_text())
    assert meta["sha256"] == checkpoints.sha256_file(files["gan_digits"][0])
    assert meta["command"] == "python -m noise2image.shipped retrain gan-digits"
    assert len(meta["trace"]) == 1
    loaded = generate.load_shipped("digits")
    assert loaded.config == tiny and generate.sample(loaded.generator, 4).shape == (4, 1, 28, 28)
    torch.use_deterministic_algorithms(False)  # retrain_shipped turns it on for the process


def python_m(*args: str) -> subprocess.CompletedProcess:
    """``python -m ARGS...`` in a fresh process, its output captured."""
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True)


def test_shipped_command_lists_verifies_and_refuses_unknown_names():
    listed = python_m("noise2image.shipped", "list")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == list(shipped.MODELS)
    checked = python_m("noise2image.shipped", "verify")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.count("ok ") == len(shipped.MODELS)
    for verb in (["retrain", "faces"], ["verify", "gan-digits", "faces"]):
        done = python_m("noise2image.shipped", *verb)
        assert done.returncode == 2 and "faces" in done.stderr and "gan-emoji" in done.stderr
    quick = python_m("noise2image.shipped", "retrain", "gan-emoji", "--epochs", "1")
    assert quick.returncode == 2 and "give --out" in quick.stderr


def test_shipped_verify_names_a_changed_file_and_another_configuration(tmp_path, monkeypatch):
    import shutil
    from dataclasses import replace

    copy = tmp_path / "gan_emoji.pt"
    shutil.copy(shipped.MODELS["gan-emoji"].location(), copy)
    shutil.copy(shipped.MODELS["gan-emoji"].location().with_suffix(".json"), tmp_path)
    moved = replace(shipped.MODELS["gan-emoji"], path=str(copy))  # an absolute path wins
    monkeypatch.setitem(shipped.MODELS, "gan-emoji", moved)
    assert shipped.verify("gan-emoji")["files"] == 1
    monkeypatch.setitem(generate.SHIPPED, "emoji", gan.replace(generate.SHIPPED["emoji"], epochs=1))
    with pytest.raises(checkpoints.CheckpointError, match=r"another configuration .*epochs"):
        shipped.verify("gan-emoji")
    monkeypatch.undo()
    monkeypatch.setitem(shipped.MODELS, "gan-emoji", moved)
    with open(copy, "r+b") as handle:
        handle.seek(-1, 2)
        last = handle.read(1)
        handle.seek(-1, 2)
        handle.write(bytes([last[0] ^ 1]))  # one bit flipped
    with pytest.raises(checkpoints.CheckpointError, match=r"do not match .*gan_emoji\.pt"):
        shipped.verify("gan-emoji")
    assert shipped.main(["verify", "gan-emoji"]) == 1


def test_older_retrain_commands_are_aliases_or_point_at_the_new_one():
    done = python_m("noise2image.generate", "--retrain-shipped", "faces")
    assert done.returncode == 2 and "'digits', 'emoji'" in done.stderr
    shown = python_m("noise2image.generate")
    assert shown.returncode == 0 and "noise2image.shipped" in shown.stdout
    moved = python_m("noise2image.gan", "--retrain-shipped")
    assert moved.returncode == 1 and "noise2image.shipped retrain gan-digits" in moved.stderr


def test_features_retrain_out_writes_a_checkpoint_elsewhere(tmp_path, capsys):
    # the book's `python -m noise2image.shipped retrain feature-net --out /tmp/again.pt`,
    # one epoch
    threads = torch.get_num_threads()
    out = tmp_path / "again.pt"
    try:
        done = shipped.main(["retrain", "feature-net", "--epochs", "1", "--out", str(out)])
        assert done == 0
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(False)
    printed = json.loads(capsys.readouterr().out)
    assert printed["sha256"] == checkpoints.sha256_file(out)
    assert printed["test_accuracy"] > 0.8  # one epoch already reads most digits
    payload = checkpoints.load_checkpoint(out, sha256=printed["sha256"])
    assert payload["config"]["epochs"] == 1
    with pytest.raises(checkpoints.CheckpointError, match="another configuration"):
        features.load_feature_net(path=out)  # a copy must have the shipped configuration
    shipped_meta = json.loads(checkpoints.shipped_files("feature_net")[1].read_text())
    assert shipped_meta["sha256"] != printed["sha256"]  # the shipped files were not touched


def test_readme_papermill_command_runs_a_chapter_with_other_parameters(tmp_path):
    # `papermill notebooks/01_data.ipynb out.ipynb -p profile smoke -p dataset openmoji`
    papermill = [sys.executable, "-m", "papermill"]
    out = tmp_path / "out.ipynb"
    done = subprocess.run(
        [*papermill, "notebooks/01_data.ipynb", str(out), "-p", "profile", "smoke"]
        + ["-p", "dataset", "openmoji", "--cwd", "notebooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    splits = records.recorded(out)["splits"]
    assert splits["pictures in train and test"] == 0


def smoke_sweep(notebook: str, grid: str, out) -> list[str]:
    """`python -m noise2image.sweeps NOTEBOOK --grid GRID --set profile=smoke --out OUT`:
    the lines of the sweep.csv it writes."""
    done = subprocess.run(
        [sys.executable, "-m", "noise2image.sweeps", notebook, "--grid", grid]
        + ["--set", "profile=smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return (out / "sweep.csv").read_text().splitlines()


def test_readme_sweep_command_writes_the_table(tmp_path):
    # `python -m noise2image.sweeps notebooks/experiments/regression_run.ipynb ...`
    table = smoke_sweep("notebooks/experiments/regression_run.ipynb", "lr=1e-3,1e-4", tmp_path)
    assert table[0].startswith("lr,clarity,FID,recognisable") and len(table) == 3


def test_check_command_passes_on_matching_records_and_fails_on_others(tmp_path):
    # `python -m tools.expected check FOLDER --profile smoke [--write]`
    executed = tmp_path / "run"
    executed.mkdir()
    source = ROOT / "notebooks" / "experiments" / "regression_run.ipynb"
    runner.run_notebook(source, executed / "01_experiment.ipynb", {"profile": "smoke"})
    folder = tmp_path / "expected"
    assert expected.check_records(executed, "smoke", write=True, expected=folder) == []
    contents = json.loads((folder / "01_experiment.smoke.json").read_text())
    contents["values"]["metrics.FID"] *= 2
    (folder / "01_experiment.smoke.json").write_text(json.dumps(contents))
    problems = expected.check_records(executed, "smoke", expected=folder)
    assert len(problems) == 1 and problems[0].startswith("01_experiment: metrics.FID = ")


def test_diffusion_retrain_shipped_writes_a_folder_that_loads_and_checks(tmp_path, monkeypatch):
    # `python -m noise2image.shipped retrain diffusion-digits --epochs 2 --out /tmp/check`,
    # with a tiny configuration standing in for the shipped one
    from dataclasses import replace

    from noise2image.autoencoder import AEConfig
    from noise2image.diffusion import train

    tiny = replace(
        train.SHIPPED, width=32, depth=1, expansion=1, text_dim=16, text_layers=1,
        batch_size=64, limit=100, warmup=1,
        vae=AEConfig(perceptual_weight=1.0, epochs=1, limit=64),
    )  # fmt: skip
    monkeypatch.setattr(train, "SHIPPED", tiny)
    monkeypatch.setenv("NOISE2IMAGE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "check"
    try:
        verb = ["retrain", "diffusion-digits", "--epochs", "2", "--out", str(out)]
        assert shipped.main(verb) == 0
    finally:
        torch.use_deterministic_algorithms(False)  # retrain_shipped turns it on
    meta = json.loads((out / "shipped.json").read_text())
    assert meta["command"] == "python -m noise2image.shipped retrain diffusion-digits"
    assert len(meta["trace"]) == 2 and "unet/diffusion_pytorch_model.safetensors" in meta["files"]
    loaded = train.load_shipped(folder=out)
    assert loaded.config == replace(tiny, epochs=2)
    assert loaded.pipeline("a seven", num_inference_steps=2).images.shape == (1, 1, 32, 32)
    shipped_meta = json.loads((train.shipped_folder() / "shipped.json").read_text())
    assert shipped_meta["files"] != meta["files"]  # the shipped folder was not touched


def test_diffusion_command_line_keeps_the_shipped_model_safe():
    done = python_m("noise2image.diffusion", "--retrain-shipped", "--epochs", "1")
    assert done.returncode == 2 and "give --out" in done.stderr
    shown = python_m("noise2image.diffusion")
    assert shown.returncode == 0 and "--retrain-shipped" in shown.stdout


def test_negative_prompt_sweep_gathers_one_row_per_setting(tmp_path):
    # the sweeps page's `python -m noise2image.sweeps ...negative_prompt_run.ipynb ...`
    notebook = "notebooks/experiments/negative_prompt_run.ipynb"
    table = smoke_sweep(notebook, "negative_prompt=,seven", tmp_path)
    assert table[0].startswith("negative_prompt,clarity,FID,classified as asked")
    assert len(table) == 3


def test_colour_sweep_gathers_one_row_per_setting(tmp_path):
    # the sweeps page's `python -m noise2image.sweeps ...colour_prompt_run.ipynb ...`
    notebook = "notebooks/experiments/colour_prompt_run.ipynb"
    table = smoke_sweep(notebook, "negative_prompt=,red", tmp_path)
    assert table[0].startswith("negative_prompt,most drawn emoji,its share,distinct emoji")
    assert "colour share" in table[0].split(",") and len(table) == 3


@pytest.mark.parametrize(
    "script",
    [
        "benchmarks/time_notebooks.py",
        "benchmarks/gan_throughput.py",
        "benchmarks/diffusion_denoisers.py",
        "benchmarks/sweep_cluster.py",
        "benchmarks/colour_model.py",
        "benchmarks/colour_encoders.py",
    ],
)
def test_benchmark_scripts_explain_themselves(script):
    done = subprocess.run(
        [sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0 and "usage" in done.stdout.lower()


def test_retrain_out_never_replaces_what_the_user_wrote_and_is_checked_before_training(tmp_path):
    notes = tmp_path / "my_notes.txt"
    notes.write_text("mine")
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "my_notes.txt").write_text("mine too")
    cases = [
        (["feature-net", "--out", str(folder)], "is a folder"),
        (["gan-emoji", "--epochs", "1", "--out", str(notes)], "exists; give a new file name"),
        (["diffusion-digits", "--epochs", "1", "--out", str(folder)], "did not write"),
        (["diffusion-digits", "--epochs", "1", "--out", str(notes)], "is a file"),
        (["feature-net", "--out", str(tmp_path / "no" / "such.pt")], "does not exist"),
    ]
    for args, message in cases:
        done = python_m("noise2image.shipped", "retrain", *args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr[-500:])
        assert "epoch" not in done.stdout  # refused before any training
    assert notes.read_text() == "mine" and (folder / "my_notes.txt").read_text() == "mine too"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "my_notes.txt"]


def test_a_folder_the_pipeline_save_wrote_may_be_written_again(tmp_path):
    from noise2image.diffusion import train

    out = tmp_path / "check"
    out.mkdir()
    assert train.check_out_folder(out) == out  # empty
    (out / "shipped.json").write_text('{"files": {"unet/w.safetensors": "x"}}')
    (out / "unet").mkdir()
    (out / "unet" / "w.safetensors").write_bytes(b"0")
    assert train.check_out_folder(out) == out  # its own files only
    (out / "notes.md").write_text("mine")
    with pytest.raises(ValueError, match="notes.md"):
        train.check_out_folder(out)


@pytest.mark.parametrize(
    "options, message",
    [
        (["--grid", "lr=1e-3", "--grid", "lr=1e-4"], "--grid: lr is given twice"),
        (["--grid", "lr=1e-3,1e-4", "--set", "lr=1e-2"], "lr given in both --grid and --set"),
        (["--grid", "lr=1e-3", "--set", "seed=1", "--set", "seed=2"], "--set: seed is given"),
    ],
)
def test_a_sweep_refuses_a_name_given_twice_before_running_anything(
    tmp_path, capsys, options, message
):
    from noise2image import sweeps

    notebook = str(ROOT / "notebooks" / "experiments" / "regression_run.ipynb")
    with pytest.raises(SystemExit) as stopped:
        sweeps.main([notebook, *options, "--out", str(tmp_path / "out")])
    assert stopped.value.code not in (0, None) and not (tmp_path / "out").exists()
    assert message in f"{stopped.value.code} {capsys.readouterr().err}"
