"""noise2image.diffusion: captions, the pipeline's call, training, the shipped model.

Behaviour of the call is checked on a tiny randomly initialised pipeline (fast); the
quality bounds on the shipped one, through the same measuring functions the chapter uses.
"""

import json
import shutil
import warnings
from dataclasses import replace

import pytest
import torch

from noise2image import data, metrics, preprocess
from noise2image.checkpoints import CheckpointError
from noise2image.diffusion import captions, evaluate, pipeline, train
from noise2image.diffusion.model import make_text_encoder, make_tokenizer

TINY = replace(train.SHIPPED, width=32, depth=1, expansion=1, text_dim=16, text_layers=1,
               epochs=2, batch_size=64, limit=100, warmup=1)  # fmt: skip


@pytest.fixture(scope="module")
def shipped():
    return train.load_shipped()


def _pictures(pipe, seed=0, **kwargs):
    kwargs.setdefault("num_inference_steps", 3)
    kwargs.setdefault("generator", torch.Generator().manual_seed(seed))
    return pipe(**kwargs).images


# ----------------------------------------------------------------------------- captions


def test_thickness_grows_when_the_strokes_are_dilated():
    digits = data.load_dataset("mnist5k", "test", seed=0).images[:50]
    dilated = torch.nn.functional.max_pool2d(digits, 3, stride=1, padding=1)
    assert (captions.thickness(dilated) > captions.thickness(digits)).float().mean() > 0.95


def test_slant_is_positive_for_a_digit_sheared_to_lean_right():
    from torchvision.transforms.v2 import functional as TF

    digits = data.load_dataset("mnist5k", "test", seed=0).images[:50]
    right = TF.affine(digits, angle=0.0, translate=[0, 0], scale=1.0, shear=[25.0, 0.0])
    assert (captions.slant(right) > captions.slant(digits)).float().mean() > 0.95


def test_style_thresholds_give_a_quarter_of_the_training_digits_each_word():
    train_digits = data.load_dataset("mnist5k", "train", seed=0).images[:1000]
    thresholds = captions.style_thresholds(train_digits)
    words = captions.style_words(train_digits, thresholds)
    for word in captions.STYLE_WORDS:
        share = sum(word in w for w in words) / len(words)
        assert 0.2 < share < 0.3, (word, share)


def test_each_defect_changes_the_picture_the_way_its_name_says():
    digits = data.load_dataset("mnist5k", "test", seed=0).images[:200]
    rng = torch.Generator().manual_seed(0)
    reference = metrics.clarity_reference(digits)
    blurry = captions.degrade(digits, "blurry", rng)
    assert metrics.clarity_score(blurry, reference) < 70
    noisy = captions.degrade(digits, "noisy", rng)
    assert metrics.clarity_score(noisy, reference) < 20
    faint = captions.degrade(digits, "faint", rng)
    assert faint.amax() < 0.5
    pixelated = captions.degrade(digits, "pixelated", rng)
    small = preprocess.resize(pixelated, 7, method="nearest")
    assert pixelated.shape == digits.shape and len(pixelated.unique()) < len(digits.unique())
    assert small.shape[-1] == 7
    with pytest.raises(ValueError, match="blurry"):
        captions.degrade(digits, "grainy", rng)


def test_captions_name_defects_only_some_of_the_time_and_drop_some_captions():
    made = captions.captioned_digits(captions.CaptionConfig(copies=2), seed=0, limit=500)
    assert len(made.captions) == len(made.images) == 1000
    degraded = [i for i, d in enumerate(made.defects) if d is not None]
    assert 0.15 < len(degraded) / 1000 < 0.25
    named = sum(made.defects[i] in made.captions[i] for i in degraded) / len(degraded)
    assert 0.3 < named < 0.6  # half named, a tenth of all captions dropped
    assert 0.05 < made.captions.count("") / 1000 < 0.15
    counts = captions.word_counts(made.captions)
    assert counts["digit"] > 0 and counts["(empty caption)"] == made.captions.count("")
    assert captions.caption(7, ("bold",), "blurry") == "a bold seven, blurry"


def test_caption_config_rejects_a_share_above_one():
    with pytest.raises(ValueError, match="degraded"):
        captions.CaptionConfig(degraded=1.5)


# ----------------------------------------------------------------------------- the call


def test_guidance_is_the_negative_prediction_plus_scale_times_the_difference():
    neg, pos = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    assert torch.equal(pipeline.classifier_free_guidance(neg, pos, 1.0), pos)
    assert torch.allclose(pipeline.classifier_free_guidance(neg, pos, 3.0), neg + 3 * (pos - neg))


def test_guidance_scale_one_equals_the_prompt_prediction_alone(tiny_pipe):
    # at scale 1 the negative prompt has no say: any negative gives the prompt's own picture
    alone = _pictures(tiny_pipe, prompt=["a seven"], guidance_scale=1.0)
    with_negative = _pictures(tiny_pipe, prompt=["a seven"], guidance_scale=1.0,
                              negative_prompt="bold")  # fmt: skip
    assert torch.equal(alone, with_negative)
    guided = _pictures(tiny_pipe, prompt=["a seven"], guidance_scale=3.0, negative_prompt="bold")
    assert not torch.equal(alone, guided)


def test_guidance_outside_its_interval_is_the_prompt_prediction_alone(tiny_pipe):
    alone = _pictures(tiny_pipe, prompt="a seven", guidance_scale=1.0)
    with pytest.warns(UserWarning, match="no step is guided"):
        never = _pictures(tiny_pipe, prompt="a seven", guidance_scale=4.0,
                          negative_prompt="bold", guidance_interval=(0.4, 0.45))  # fmt: skip
    sometimes = _pictures(tiny_pipe, prompt="a seven", guidance_scale=4.0, negative_prompt="bold",
                          guidance_interval=(0.0, 0.5))  # fmt: skip
    always = _pictures(tiny_pipe, prompt="a seven", guidance_scale=4.0, negative_prompt="bold")
    assert torch.equal(alone, never)
    assert not torch.equal(sometimes, always) and not torch.equal(sometimes, alone)


def test_negative_prompt_none_equals_the_empty_prompt(tiny_pipe):
    none = _pictures(tiny_pipe, prompt=["a seven", "a two"], guidance_scale=4.0)
    empty = _pictures(tiny_pipe, prompt=["a seven", "a two"], guidance_scale=4.0,
                      negative_prompt=["", ""])  # fmt: skip
    other = _pictures(tiny_pipe, prompt=["a seven", "a two"], guidance_scale=4.0,
                      negative_prompt="seven")  # fmt: skip
    assert torch.equal(none, empty) and not torch.equal(none, other)


def test_precomputed_embeddings_give_the_same_pictures(tiny_pipe):
    pos, neg = tiny_pipe.encode_prompt("a bold two", negative_prompt="thin")
    assert pos.shape == neg.shape == (1, tiny_pipe.tokenizer.model_max_length, 16)
    from_text = _pictures(tiny_pipe, prompt="a bold two", negative_prompt="thin")
    from_embeds = _pictures(tiny_pipe, prompt_embeds=pos, negative_prompt_embeds=neg)
    assert torch.equal(from_text, from_embeds)


def test_the_prompt_is_projected_once_per_call_and_the_pictures_stay_bit_identical(tiny_pipe):
    def pictures():
        return tiny_pipe(
            ["a three", "a seven"], negative_prompt="blurry", guidance_scale=3.0,
            num_inference_steps=6, generator=torch.Generator().manual_seed(4), output_type="pt",
        ).images  # fmt: skip

    kv = tiny_pipe.unet.blocks[0].attention.kv
    calls = []
    hook = kv.register_forward_hook(lambda *_: calls.append(1))
    try:
        reused = pictures()
        assert len(calls) == 1  # one projection for the 6 steps (prompt and negative together)
        calls.clear()
        with torch.no_grad():  # outside reusing_text every step projects the prompt again
            tiny_pipe.unet(torch.zeros(1, 4, 8, 8), 500, torch.zeros(1, 5, 16))
            tiny_pipe.unet(torch.zeros(1, 4, 8, 8), 500, torch.zeros(1, 5, 16))
        assert len(calls) == 2
        unet_class = type(tiny_pipe.unet)
        method = unet_class.reusing_text
        try:
            unet_class.reusing_text = None  # the pipeline then projects at every step
            calls.clear()
            again = pictures()
            assert len(calls) == 6
        finally:
            unet_class.reusing_text = method
    finally:
        hook.remove()
    assert torch.equal(reused, again)
    assert tiny_pipe.unet.blocks[0].attention._memo is None  # nothing kept after the call


def test_output_types_and_images_per_prompt(tiny_pipe):
    pics = _pictures(tiny_pipe, prompt=["a one", "a two"], num_images_per_prompt=3)
    assert pics.shape == (6, 1, 32, 32) and 0 <= pics.min() and pics.max() <= 1
    pil = _pictures(tiny_pipe, prompt="a one", output_type="pil")
    assert pil[0].size == (32, 32)
    latents = _pictures(tiny_pipe, prompt="a one", output_type="latent")
    assert latents.shape == (1, 4, 8, 8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"guidance_scale": -1.0}, r"guidance_scale=-1.0 is too small; it must be >= 0"),
        ({"num_inference_steps": 0}, r"num_inference_steps=0 is too small; it must be >= 1"),
        ({"negative_prompt": ["", "", ""]}, "negative_prompt has 3 entries but prompt has 2"),
        ({"output_type": "np"}, "output_type must be one of"),
        ({"guidance_rescale": 2.0}, r"guidance_rescale=2.0 is too large; it must be <= 1"),
        ({"guidance_interval": (0.8, 0.2)}, "guidance_interval must be"),
        ({"guidance_interval": (0.2,)}, "guidance_interval must be"),
        ({"guidance_scale": float("nan")}, "guidance_scale=nan must be a finite number"),
        ({"guidance_scale": float("inf")}, "guidance_scale=inf must be a finite number"),
        ({"guidance_rescale": float("nan")}, "guidance_rescale=nan must be a finite number"),
        (
            {"guidance_interval": (float("nan"), 1.0)},
            r"guidance_interval.0.=nan must be a finite",
        ),
        ({"num_inference_steps": True}, "num_inference_steps=True must be a whole number"),
        ({"num_images_per_prompt": 2.0}, "num_images_per_prompt=2.0 must be a whole number"),
        ({"guidance_interval": (2, 3)}, r"guidance_interval.0.=2 is too large; it must be <= 1"),
        ({"generator": 0}, "generator must be a torch.Generator .* not 0"),
        ({"generator": [0, 1]}, "generator must be a torch.Generator"),
        ({"prompt": []}, "prompt is an empty list"),
        ({"latents": torch.zeros(2, 3, 5, 5)}, r"latents must be a tensor of shape \(2, 4, 8, 8\)"),
        ({"latents": torch.full((2, 4, 8, 8), float("nan"))}, "latents hold NaN"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(tiny_pipe, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        _pictures(tiny_pipe, **{"prompt": ["a one", "a two"], **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # the tiny tokenizer reads 10 tokens: "three" and one "bold" are cut
        (
            {"prompt": "a bold bold bold bold bold bold bold bold bold bold three"},
            "this part was cut and has no effect: 'bold three'",
        ),
        (
            {"prompt": "a one", "negative_prompt": "blurry", "guidance_scale": 1.0},
            "negative_prompt 'blurry' has no effect with guidance_scale=1.0",
        ),
        (
            {"prompt": "a one", "guidance_interval": (0.5, 0.5), "num_inference_steps": 2},
            r"guidance_interval=\(0.5, 0.5\) holds none of the 2 steps' noise levels",
        ),
    ],
)
def test_arguments_that_would_do_nothing_are_named_in_a_warning(tiny_pipe, kwargs, message):
    with pytest.warns(UserWarning, match=message):
        _pictures(tiny_pipe, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same call made sensible warns of nothing
        _pictures(tiny_pipe, prompt="a one", negative_prompt="", guidance_scale=1.0)
        _pictures(tiny_pipe, prompt="a one", negative_prompt="blurry", guidance_scale=4.0)


def test_an_incomplete_pipeline_folder_is_named_before_loading(tiny_pipe, tmp_path):
    import shutil

    tiny_pipe.save_pretrained(tmp_path / "pipe")
    shutil.copytree(tmp_path / "pipe", tmp_path / "no_unet")
    shutil.rmtree(tmp_path / "no_unet" / "unet")
    with pytest.raises(FileNotFoundError, match=r"incomplete: missing unet/ \(its config\)"):
        pipeline.MiniDiffusionPipeline.from_pretrained(tmp_path / "no_unet")
    shutil.copytree(tmp_path / "pipe", tmp_path / "no_weights")
    (tmp_path / "no_weights" / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="vae/diffusion_pytorch_model.safetensors"):
        pipeline.MiniDiffusionPipeline.from_pretrained(str(tmp_path / "no_weights"))
    with pytest.raises(FileNotFoundError, match="no model_index.json"):
        pipeline.MiniDiffusionPipeline.from_pretrained(tmp_path / "no_weights" / "vae")


def test_unknown_words_are_named_in_a_warning(tiny_pipe):
    with pytest.warns(UserWarning, match="purple, unicorn"):
        _pictures(tiny_pipe, prompt="a purple seven", negative_prompt="unicorn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _pictures(tiny_pipe, prompt="A Bold seven, blurry")  # known words, any case


def test_save_and_load_give_identical_pictures(tiny_pipe, tmp_path):
    tiny_pipe.save_pretrained(tmp_path / "pipe")
    loaded = pipeline.MiniDiffusionPipeline.from_pretrained(tmp_path / "pipe")
    loaded.set_progress_bar_config(disable=True)
    for name in ("vae", "text_encoder", "tokenizer", "unet", "scheduler"):
        assert (tmp_path / "pipe" / name).is_dir(), name  # every component was written
    assert torch.equal(_pictures(tiny_pipe, prompt="a bold two", negative_prompt="thin"),
                       _pictures(loaded, prompt="a bold two", negative_prompt="thin"))  # fmt: skip


def test_another_scheduler_from_the_config_samples_too(tiny_pipe):
    from diffusers import FlowMatchHeunDiscreteScheduler

    euler = tiny_pipe.scheduler
    try:
        tiny_pipe.scheduler = FlowMatchHeunDiscreteScheduler.from_config(euler.config)
        heun = _pictures(tiny_pipe, prompt="a one")
    finally:
        tiny_pipe.scheduler = euler
    assert heun.shape == (1, 1, 32, 32) and not torch.equal(
        heun, _pictures(tiny_pipe, prompt="a one")
    )


def test_compare_negatives_gives_a_row_and_pictures_per_negative_on_the_same_seeds(tiny_pipe):
    table, pictures = evaluate.compare_negatives(
        tiny_pipe, ["a seven", "a two"], ["", "bold"], lambda x: {"n": len(x)},
        num_inference_steps=2,
    )  # fmt: skip
    assert table == {"(none)": {"n": 2}, "bold": {"n": 2}}
    again = evaluate.pictures_for(tiny_pipe, ["a seven", "a two"], negative_prompt="bold",
                              num_inference_steps=2)  # fmt: skip
    assert torch.equal(pictures["bold"], again) and pictures[""].shape == (2, 1, 28, 28)


def test_compare_negatives_runs_on_a_tiny_stable_diffusion_pipeline():
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )

    torch.manual_seed(0)
    tokenizer = make_tokenizer()
    text_encoder = make_text_encoder(tokenizer, hidden_size=32, layers=1, heads=2)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, layers_per_block=1, attention_head_dim=4, norm_num_groups=8,
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32),
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=8, sample_size=16,
    )  # fmt: skip
    sd = StableDiffusionPipeline(
        vae, text_encoder, tokenizer, unet, DDIMScheduler(clip_sample=False), None, None,
        requires_safety_checker=False,
    )  # fmt: skip
    sd.set_progress_bar_config(disable=True)
    table, pictures = evaluate.compare_negatives(
        sd, ["a seven"] * 2, ["", "blurry"], lambda x: {"mean": x.mean().item()},
        num_inference_steps=2, guidance_scale=4.0, height=16, width=16,
    )  # fmt: skip
    assert set(table) == {"(none)", "blurry"} and pictures["blurry"].shape == (2, 3, 16, 16)
    assert not torch.equal(pictures[""], pictures["blurry"])


# ----------------------------------------------------------------------------- training


def test_a_tiny_run_trains_saves_and_resumes(tmp_path, shipped):
    vae = shipped.pipeline.vae
    path = tmp_path / "run.pt"
    first = train.train_diffusion(replace(TINY, epochs=1), path, progress=False, vae=vae,
                                  save_every=1)  # fmt: skip
    assert first.trace[0]["loss"] > 0 and "classified as asked" in first.trace[0]
    # the same run asked for two epochs picks up after the first (the file holds epoch 1 of
    # a run whose config says 1 epoch, so it is a different configuration: start again)
    again = train.train_diffusion(TINY, tmp_path / "two.pt", progress=False, vae=vae)
    assert [row["epoch"] for row in again.trace] == [1, 2]
    assert again.trace[1]["loss"] < again.trace[0]["loss"]
    resumed = train.train_diffusion(TINY, tmp_path / "two.pt", progress=False, vae=vae)
    assert resumed.trace == again.trace  # nothing left to train: the saved trace comes back


def test_an_interrupted_run_resumes_where_it_was_saved_and_ends_as_an_uninterrupted_one(
    tmp_path, shipped, monkeypatch, capsys
):
    vae = shipped.pipeline.vae
    path = tmp_path / "run.pt"
    real_step, calls = train.train_step, []
    steps_per_epoch = 4 * TINY.limit // TINY.batch_size

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == steps_per_epoch + 2:  # in the middle of epoch 2
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train.train_diffusion(TINY, path, progress=False, vae=vae, save_every=1)
    monkeypatch.setattr(train, "train_step", real_step)
    resumed = train.train_diffusion(TINY, path, progress=False, vae=vae, save_every=1)
    assert "after epoch 1" in capsys.readouterr().out
    whole = train.train_diffusion(TINY, None, progress=False, vae=vae)
    for a, b in zip(resumed.trace, whole.trace, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)


def test_the_pipeline_shows_the_course_progress_bar(tiny_pipe, capsys):
    tiny_pipe.set_progress_bar_config(desc="denoising")
    try:
        _pictures(tiny_pipe, prompt="a one", num_inference_steps=3)
    finally:
        tiny_pipe.set_progress_bar_config(disable=True)
    assert "denoising: 100%" in capsys.readouterr().err


def test_train_or_load_loads_the_finished_run_and_refuses_a_corrupt_one(tmp_cache, shipped):
    vae = shipped.pipeline.vae
    trained = train.train_or_load(TINY, progress=False, vae=vae)
    loaded = train.train_or_load(TINY, progress=False, vae=vae)
    assert loaded.loaded and loaded.trace == trained.trace
    assert torch.equal(_pictures(trained.pipeline, prompt="a one"),
                       _pictures(loaded.pipeline, prompt="a one"))  # fmt: skip
    path = train.checkpoint_path(TINY)
    path.write_bytes(path.read_bytes()[:1000])  # an interrupted copy
    again = train.train_or_load(TINY, progress=False, vae=vae)
    assert not again.loaded and len(again.trace) == TINY.epochs


def test_diffusion_config_rejects_bad_values():
    with pytest.raises(ValueError, match="epochs"):
        replace(TINY, epochs=0)
    with pytest.raises(ValueError, match="lr"):
        replace(TINY, lr=-1.0)


# ----------------------------------------------------------------------------- shipped


def test_shipped_files_are_checked_before_loading(tmp_path):
    folder = tmp_path / "shipped"
    shutil.copytree(train.shipped_folder(), folder)
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[-64] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="unet/diffusion_pytorch_model.safetensors"):
        train.load_shipped(folder=folder)
    shutil.copytree(train.shipped_folder(), folder, dirs_exist_ok=True)
    (folder / "vae" / "config.json").unlink()
    with pytest.raises(CheckpointError, match="vae/config.json"):
        train.load_shipped(folder=folder)


def test_shipped_model_records_how_it_was_made(shipped):
    meta = json.loads((train.shipped_folder() / "shipped.json").read_text())
    assert meta["command"] == "python -m noise2image.shipped retrain diffusion-digits"
    assert shipped.config == train.SHIPPED and len(meta["trace"]) == train.SHIPPED.epochs
    assert meta["train_seconds"] < 30 * 60


def test_shipped_model_draws_the_digit_asked_for_sharply(shipped):
    prompts, labels = evaluate.digit_prompts(50)
    images = evaluate.pictures_for(shipped.pipeline, prompts, seed=1)  # the defaults: guidance 4
    assert evaluate.classified_as_asked(images, labels) >= 0.95
    real = data.load_dataset("mnist5k", "test", seed=0).images[:500]
    assert metrics.clarity_score(images, real) >= 90


def test_shipped_model_without_guidance_spreads_like_real_digits(shipped):
    # guidance makes the pictures of one prompt alike (chapter 8 measures the cost in FID);
    # the model's own distribution, unguided, is within 2x the real-vs-real FID
    prompts, _ = evaluate.digit_prompts(50)
    images = evaluate.pictures_for(shipped.pipeline, prompts, seed=1, guidance_scale=1.0)
    real = data.load_dataset("mnist5k", "test", seed=0).images[:500]
    val = data.load_dataset("mnist5k", "val", seed=0).images[:500]
    assert metrics.fid(real, images) <= 2 * metrics.fid(real, val)


def test_shipped_model_steers_away_from_a_negative_concept(shipped):
    prompts = ["a digit"] * 500
    plain = evaluate.predicted_digits(evaluate.pictures_for(shipped.pipeline, prompts, seed=2))
    steered = evaluate.predicted_digits(
        evaluate.pictures_for(shipped.pipeline, prompts, seed=2, negative_prompt="seven")
    )
    share, steered_share = (plain == 7).float().mean(), (steered == 7).float().mean()
    assert share > 0.05 and steered_share <= share / 4


def test_an_is_read_as_a_so_captions_can_be_english():
    tokenizer = make_tokenizer()
    assert captions.caption(8, ("upright",), None) == "an upright eight"
    assert captions.caption(8, ("bold",), None) == "a bold eight"
    assert evaluate.digit_prompts(1)[0][8] == "an eight"
    ids = tokenizer(["an eight", "a eight", "An Eight"]).input_ids
    assert ids[0] == ids[1] == ids[2]
    assert pipeline.unknown_words(tokenizer, ["an upright eight", "a purple one"]) == ["purple"]


def test_style_row_measures_bold_digits_as_bold():
    train_digits = data.load_dataset("mnist5k", "train", seed=0).images[:1000]
    thresholds = captions.style_thresholds(train_digits)
    words = captions.style_words(train_digits, thresholds)
    bold = train_digits[[i for i, w in enumerate(words) if "bold" in w]]
    row = evaluate.style_row(bold, thresholds, ["bold"])
    assert row["bold"] == row["both words"] == 1.0 and row["thickness"] > thresholds.bold
    assert "both words" not in evaluate.style_row(bold, thresholds)


def test_generate_takes_one_negative_embedding_for_every_prompt(tiny_pipe):
    empty = tiny_pipe.encode_prompt("", do_classifier_free_guidance=False)[0]  # (1, T, D)
    prompts = ["a seven", "a one", "a bold two"]
    kwargs = {"batch": 2, "num_inference_steps": 2}
    embedded = evaluate.pictures_for(tiny_pipe, prompts, 0, negative_prompt_embeds=empty, **kwargs)
    written = evaluate.pictures_for(tiny_pipe, prompts, 0, negative_prompt="", **kwargs)
    assert embedded.shape == (3, 1, 28, 28) and torch.allclose(embedded, written, atol=1e-6)
    other = tiny_pipe.encode_prompt("seven", do_classifier_free_guidance=False)[0]
    steered = evaluate.pictures_for(tiny_pipe, prompts, 0, negative_prompt_embeds=other, **kwargs)
    assert not torch.allclose(steered, written)


@pytest.mark.parametrize("text", ["{not json", '{"config": {}}', "[]"])
def test_an_unreadable_shipped_record_is_refused_with_the_command_that_remakes_it(tmp_path, text):
    folder = tmp_path / "shipped"
    shutil.copytree(train.shipped_folder(), folder)
    (folder / "shipped.json").write_text(text)
    with pytest.raises(CheckpointError, match="not a shipped model's record.*shipped retrain"):
        train.load_shipped(folder=folder)


def test_the_sampling_loop_written_out_gives_the_pipelines_pictures_to_the_bit(tiny_pipe):
    # chapter 8's hand-written loop: encode, noise, and per step predict twice, guide, step
    scale, steps = 4.0, 3
    prompt_embeds, negative_embeds = tiny_pipe.encode_prompt("a bold two", negative_prompt="thin")
    latents = tiny_pipe.prepare_latents(1, torch.Generator().manual_seed(0), "cpu")
    tiny_pipe.scheduler.set_timesteps(steps)
    with torch.no_grad():
        for t in tiny_pipe.scheduler.timesteps:
            both = tiny_pipe.unet(
                torch.cat([latents] * 2), t, torch.cat([negative_embeds, prompt_embeds])
            )[0]
            v_negative, v_prompt = both.chunk(2)
            v = v_prompt + (scale - 1) * (v_prompt - v_negative)
            latents = tiny_pipe.scheduler.step(v, t, latents)[0]
        by_hand = tiny_pipe.vae.decode(latents / tiny_pipe.vae.config.scaling_factor).clamp(0, 1)
    from_pipe = _pictures(
        tiny_pipe, prompt="a bold two", negative_prompt="thin", guidance_scale=scale,
        num_inference_steps=steps,
    )  # fmt: skip
    assert torch.equal(by_hand, from_pipe)
