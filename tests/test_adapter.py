"""noise2image.diffusion.adapter: the "wrong" LoRA (chapter 9), on a tiny random pipeline."""

import pytest
import torch
from conftest import make_tiny_pipe

from noise2image.diffusion import adapter, train, woolf

TINY_PRIOR = train.DiffusionConfig(limit=60)
FAST = adapter.WrongConfig(
    guidance_scales=(6.0,), steps=(2,), per_setting=4, train_steps=3, batch_size=8, lr=1e-2
)


def _pictures(pipe, prompt="a seven", negative="wrong", seed=0):
    generator = torch.Generator().manual_seed(seed)
    return pipe(
        [prompt] * 4, negative_prompt=negative, num_inference_steps=3, generator=generator
    ).images


@pytest.fixture
def trained():
    pipe = make_tiny_pipe()
    base = _pictures(pipe, negative="")
    bad = adapter.bad_set(pipe, FAST, progress=False)
    result = adapter.train_wrong_lora(pipe, bad, FAST, prior=TINY_PRIOR, progress=False)
    return pipe, base, bad, result


def test_bad_prompts_name_every_quality_word_with_one_written_twice():
    prompts = adapter.bad_prompts()
    assert prompts[0] == "blurry, blurry, noisy, faint, pixelated"
    for prompt, word in zip(prompts, ("blurry", "noisy", "faint", "pixelated"), strict=True):
        words = prompt.split(", ")
        assert words.count(word) == 2 and len(set(words)) == 4


def test_bad_set_has_one_picture_per_setting_and_latent(trained):
    _, _, bad, _ = trained
    n = len(FAST.words) * len(FAST.guidance_scales) * len(FAST.steps) * FAST.per_setting
    assert bad.latents.shape == (n, 4, 8, 8) and bad.images.shape == (n, 1, 28, 28)
    assert len(bad.prompts) == len(bad.scales) == len(bad.steps) == n
    assert 0 <= bad.images.min() and bad.images.max() <= 1


def test_add_token_appends_the_word_and_keeps_every_other_id():
    pipe = make_tiny_pipe()
    before = pipe.tokenizer("a bold seven, blurry").input_ids
    rows = pipe.text_encoder.get_input_embeddings().weight.clone()
    token_id = adapter.add_token(pipe, "wrong")
    assert token_id == len(rows)
    assert pipe.tokenizer("a bold seven, blurry").input_ids == before
    assert pipe.tokenizer("wrong").input_ids[1] == token_id
    after = pipe.text_encoder.get_input_embeddings().weight
    assert after.shape[0] == len(rows) + 1 and torch.equal(after[:-1], rows)
    assert adapter.add_token(pipe, "wrong") == token_id  # adding again changes nothing


def test_training_changes_only_the_lora_and_the_new_words_row():
    pipe = make_tiny_pipe()
    unet_before = {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    text_before = {k: v.clone() for k, v in pipe.text_encoder.state_dict().items()}
    old = pipe.text_encoder.get_input_embeddings().weight.clone()
    bad = adapter.bad_set(pipe, FAST, progress=False)
    result = adapter.train_wrong_lora(pipe, bad, FAST, prior=TINY_PRIOR, progress=False)
    after = pipe.unet.state_dict()
    lora = [k for k in after if "lora_" in k]
    assert lora and result.trainable == sum(after[k].numel() for k in lora) + 16
    for key, value in unet_before.items():  # peft renames a wrapped layer's weight
        wrapped = key.replace(".weight", ".base_layer.weight").replace(".bias", ".base_layer.bias")
        assert torch.equal(after.get(key, after.get(wrapped)), value), key
    rows = pipe.text_encoder.get_input_embeddings().weight
    assert torch.equal(rows[: len(old)], old)
    others = {k: v for k, v in pipe.text_encoder.state_dict().items() if "token_embedding" not in k}
    assert all(torch.equal(v, text_before[k]) for k, v in others.items())
    assert len(result.trace) == 3 and all(r["loss on the bad set"] > 0 for r in result.trace)


def test_adapter_on_changes_the_pictures_and_off_or_scale_zero_gives_the_base_model(trained):
    pipe, base, _, _ = trained
    assert not torch.equal(_pictures(pipe, negative=""), base)  # the LoRA does something
    with adapter.lora_scale(pipe, 0.0):
        assert torch.equal(_pictures(pipe, negative=""), base)
    pipe.unet.disable_adapters()
    assert torch.equal(_pictures(pipe, negative=""), base)
    pipe.unet.enable_adapters()
    with adapter.lora_scale(pipe, 0.5):
        half = _pictures(pipe, negative="")
    assert not torch.equal(half, base) and not torch.equal(half, _pictures(pipe, negative=""))


def test_a_saved_and_loaded_adapter_gives_identical_pictures(trained, tmp_path):
    pipe, _, _, _ = trained
    folder = adapter.save_adapter(pipe, tmp_path / "wrong")
    assert sorted(p.name for p in folder.iterdir()) == [adapter.EMBEDS_FILE, adapter.LORA_FILE]
    fresh = make_tiny_pipe()  # the same base weights, no adapter
    assert not torch.equal(_pictures(fresh), _pictures(pipe))
    assert adapter.load_adapter(fresh, folder) == "wrong"
    assert torch.equal(_pictures(fresh), _pictures(pipe))


def test_an_interrupted_save_keeps_the_previous_adapter(trained, tmp_path, monkeypatch):
    pipe, _, _, _ = trained
    folder = adapter.save_adapter(pipe, tmp_path / "wrong")
    saved = (folder / adapter.LORA_FILE).read_bytes()
    import safetensors.torch

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_file", fail)
    with pytest.raises(KeyboardInterrupt):
        adapter.save_adapter(pipe, folder)
    assert (folder / adapter.LORA_FILE).read_bytes() == saved
    assert (folder / adapter.EMBEDS_FILE).is_file()


def test_save_adapter_never_removes_what_it_did_not_write(trained, tmp_path):
    pipe, _, _, _ = trained
    mine = tmp_path / "my_adapters"
    mine.mkdir()
    (mine / "notes.md").write_text("mine")
    with pytest.raises(ValueError, match="notes.md"):
        adapter.save_adapter(pipe, mine)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.md"]
    (tmp_path / "a_file").write_text("mine")
    with pytest.raises(ValueError, match="is a file"):
        adapter.save_adapter(pipe, tmp_path / "a_file")
    assert (tmp_path / "a_file").read_text() == "mine"
    again = adapter.save_adapter(pipe, tmp_path / "wrong")
    assert adapter.save_adapter(pipe, again) == again  # its own adapter may be replaced


def test_save_adapter_refuses_a_word_the_tokenizer_does_not_know(trained, tmp_path):
    pipe, _, _, _ = trained
    with pytest.raises(ValueError, match="token='bad' is not a word.*'wrong'"):
        adapter.save_adapter(pipe, tmp_path / "bad", token="bad")
    assert not (tmp_path / "bad").exists()


def test_load_adapter_names_the_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="learned_embeds.safetensors"):
        adapter.load_adapter(make_tiny_pipe(), tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"token": "Wrong word"}, "one lower-case word"),
        ({"words": ("ugly",)}, "quality words"),
        ({"rank": 0}, "rank"),
        ({"guidance_scales": (0.5,)}, "guidance_scales"),
        ({"target_modules": ()}, "target_modules"),
    ],
)
def test_wrong_config_refuses_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        adapter.WrongConfig(**kwargs)


def test_choose_scale_takes_the_clearest_scale_that_keeps_the_prompt():
    import pandas as pd

    sweep = pd.DataFrame(
        {"clarity": [100, 104, 103, 101], "classified as asked": [0.99, 0.95, 0.98, 0.99]},
        index=[0.0, 0.5, 0.75, 1.0],
    )
    assert woolf.choose_scale(sweep) == 0.75  # 0.5 is clearer but loses 4 points
    with pytest.raises(ValueError, match="scale-0"):
        woolf.choose_scale(sweep.drop(index=0.0))


def test_a_drawn_prior_is_the_frozen_models_own_pictures_and_trains_the_lora():
    pipe = make_tiny_pipe()
    prompts = ["a seven", "a bold one", "a thin digit"]
    prior = adapter.drawn_prior(pipe, prompts, seed=3, progress=False, num_inference_steps=2)
    assert prior.latents.shape == (3, 4, 8, 8) and prior.prompts == prompts
    generator = torch.Generator().manual_seed(3)
    same = pipe(prompts, generator=generator, output_type="latent", num_inference_steps=2)
    assert torch.equal(prior.latents, same.images)  # what the model drew, nothing else
    bad = adapter.bad_set(pipe, FAST, progress=False)
    result = adapter.train_wrong_lora(pipe, bad, FAST, prior=prior, progress=False)
    assert all(r["prior loss"] > 0 for r in result.trace)
    with pytest.raises(ValueError, match="prompts must be"):
        adapter.drawn_prior(pipe, [], progress=False)


def test_random_words_are_as_long_as_the_learned_word_and_change_no_other_row(trained):
    pipe, _, _, _ = trained
    before = pipe.text_encoder.get_input_embeddings().weight.clone()
    words = adapter.random_words(pipe, 3, seed=1)
    assert words == ["random1", "random2", "random3"]
    rows = pipe.text_encoder.get_input_embeddings().weight
    assert torch.equal(rows[: len(before)], before)
    length = adapter.token_embedding(pipe, "wrong").norm()
    vectors = torch.stack([adapter.token_embedding(pipe, w) for w in words])
    assert torch.allclose(vectors.norm(dim=1), length.expand(3))
    assert torch.linalg.matrix_rank(vectors) == 3  # three different directions
    assert torch.equal(vectors, torch.stack(
        [adapter.token_embedding(pipe, w) for w in adapter.random_words(pipe, 3, seed=1)]
    ))  # fmt: skip
    runs = woolf.woolf_runs(pipe, pipe, 0.5, null_words=words)
    assert runs[f"{woolf.NULL} 2"] == (pipe, "random2", 0.0)  # the LoRA off
    with pytest.raises(ValueError, match="like='nope'"):
        adapter.random_words(pipe, 1, like="nope")
    with pytest.raises(ValueError, match="k"):
        adapter.random_words(pipe, 0)
