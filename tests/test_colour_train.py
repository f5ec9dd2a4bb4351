"""Chapter 10's training run and shipped model: a short run learns, the shipped folder
round-trips and refuses changed or extra files, a save never replaces what the user wrote,
and the pipeline refuses bad input as chapter 8's does."""

import dataclasses
import json

import pytest
import torch

from noise2image.checkpoints import CheckpointError
from noise2image.diffusion import colour_shipped as cs
from noise2image.diffusion import colour_train as ct
from noise2image.diffusion.colour_vae import ColourVAEConfig
from noise2image.diffusion.emoji_classifier import ClassifierConfig
from noise2image.profiles import ParameterError

TINY = dataclasses.replace(
    cs.SHIPPED, epochs=3, width=64, depth=1, limit=64, batch_size=16, warmup=0, lr=1e-3,
    vae=ColourVAEConfig(epochs=1, width=8),
)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("colour") / "model"
    meta = cs.retrain_shipped(
        TINY, out, progress=False, classifier_config=ClassifierConfig(epochs=1, width=8)
    )
    return out, meta


def test_a_short_run_learns_and_the_folder_round_trips(tiny_folder):
    out, meta = tiny_folder
    losses = [row["loss"] for row in meta["trace"]]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert set(meta["files"]) == {
        "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
        "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
        "scheduler/scheduler_config.json",
        "classifier/classes.json", "classifier/model.safetensors",
    }  # fmt: skip
    assert not any("text_encoder" in f for f in meta["files"])  # it comes from its wheel
    result, classifier, classes = cs.load_shipped(folder=out)
    assert result.config == TINY and len(classes) > 90
    image = result.pipeline(
        "a red heart", num_inference_steps=2, generator=torch.Generator().manual_seed(0),
        output_type="pil",
    ).images[0]  # fmt: skip
    assert image.size == (64, 64) and image.mode == "RGB"
    assert classifier(torch.rand(2, 3, 64, 64)).shape == (2, len(classes))


def test_changed_or_extra_files_are_refused(tiny_folder, tmp_path):
    import shutil

    out, _ = tiny_folder
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="notes.txt"):
        cs.load_shipped(folder=copy)
    (copy / "notes.txt").unlink()
    config = copy / "unet" / "config.json"
    config.write_text(config.read_text().replace('"depth": 1', '"depth": 2'))
    with pytest.raises(CheckpointError, match="unet/config.json"):
        cs.load_shipped(folder=copy)
    with pytest.raises(CheckpointError, match="retrain diffusion-emoji"):
        cs.load_shipped(folder=tmp_path / "nothing")


def test_a_save_never_replaces_what_the_user_wrote(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "my_notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="my_notes.txt"):
        cs.retrain_shipped(TINY, mine, progress=False)
    assert (mine / "my_notes.txt").read_text() == "keep me"
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        cs.retrain_shipped(TINY, tmp_path / "afile", progress=False)


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0),
        ("lr", float("nan")),
        ("caption_dropout", 1.5),
        ("limit", 3),
        ("text_encoder", "clip"),
    ],
)
def test_bad_settings_are_refused_by_name(field, value):
    with pytest.raises(ParameterError, match=field):
        dataclasses.replace(cs.SHIPPED, **{field: value})


def test_the_pipeline_refuses_bad_input_as_chapter_8s_does(tiny_folder):
    result, _, _ = cs.load_shipped(folder=tiny_folder[0])
    pipe = result.pipeline
    for bad in (float("nan"), float("inf")):
        with pytest.raises((ValueError, ParameterError), match="guidance_scale"):
            pipe("a cat", guidance_scale=bad, num_inference_steps=2)
    with pytest.raises(ValueError, match="output_type"):
        pipe("a cat", num_inference_steps=2, output_type="jpeg")
    with pytest.warns(UserWarning, match="this part was cut and has no effect: 'very very"):
        pipe("a " + "very " * 40 + "red heart", num_inference_steps=2)


def test_the_shipped_record_names_its_command_and_measures():
    meta = json.loads((cs.shipped_folder() / "shipped.json").read_text())
    assert meta["command"] == "python -m noise2image.shipped retrain diffusion-emoji"
    assert meta["config"] == json.loads(json.dumps(dataclasses.asdict(cs.SHIPPED)))
    assert meta["vae"]["held_out_psnr"] > 25
    assert meta["classifier"]["trace"][-1]["test acc (unseen emoji)"] > 0.2


def test_the_from_scratch_encoder_knows_only_the_captions_words_and_trains_and_resumes(
    tiny_folder, tmp_path
):
    words = ct.caption_words(["waving hand, medium-light skin tone", "red heart"])
    assert words == ["waving", "hand", ",", "medium", "-", "light", "skin", "tone", "red", "heart"]
    tokenizer, encoder = ct.scratch_text_encoder(["red heart"])
    ids = tokenizer("a kitty heart").input_ids
    assert tokenizer.unk_token_id in ids and tokenizer.convert_tokens_to_ids("heart") in ids
    assert encoder.config.max_position_embeddings == 32
    out, _ = tiny_folder
    vae = cs.load_shipped(folder=out)[0].pipeline.vae
    config = dataclasses.replace(TINY, epochs=2, text_encoder="from scratch")
    path = tmp_path / "scratch.pt"
    first = ct.train_colour_diffusion(dataclasses.replace(config, epochs=1), checkpoint=None,
                                      progress=False, vae=vae)  # fmt: skip
    whole = ct.train_colour_diffusion(config, checkpoint=path, progress=False, vae=vae)
    assert whole.trace[0]["loss"] == first.trace[0]["loss"]  # the same start, seed for seed
    resumed = ct.train_colour_diffusion(config, checkpoint=path, progress=False, vae=vae)
    assert [r["loss"] for r in resumed.trace] == [r["loss"] for r in whole.trace]
    pipe = whole.pipeline
    assert pipe.text_encoder.config.hidden_size == ct.SCRATCH_WIDTH
    assert not any(p.requires_grad for p in pipe.text_encoder.parameters())
    with pytest.warns(UserWarning, match="kitty"):
        image = pipe("a kitty", num_inference_steps=2, output_type="pil").images[0]
    assert image.size == (64, 64)
