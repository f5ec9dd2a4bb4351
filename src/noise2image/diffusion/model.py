"""The networks of the miniature text-to-image model (chapter 8), named as in Stable Diffusion.

* :class:`MiniVAE` -- chapter 7's perceptual autoencoder as the model's ``vae``:
  ``encode`` ``(B, 1, 32, 32)`` -> latents ``(B, 4, 8, 8)``, ``decode`` back to pictures in
  [0, 1]; ``config.scaling_factor`` (1 / the training latents' standard deviation) scales
  the latents to unit variance, as SD's ``vae.config.scaling_factor`` does.
* :func:`make_tokenizer` and :func:`make_text_encoder` -- a word-level tokenizer over the
  caption vocabulary (``tokenizers``' WordLevel model in ``transformers``'
  ``PreTrainedTokenizerFast``) and a small ``CLIPTextModel`` built from a ``CLIPTextConfig``:
  prompt -> token ids ``(B, T)`` -> hidden states ``(B, T, D)``.
* :class:`LatentDenoiser` -- the ``unet``: a residual MLP on the flattened latent, told the
  noise level by a timestep embedding and the prompt by cross-attention to the text encoder's
  hidden states, as SD's U-Net is. Chosen by measurement on a 2-core CPU (see
  ``benchmarks/diffusion_denoisers.py``): at 8x8x4 latents a diffusers
  ``UNet2DConditionModel`` of the same size trains several times slower per picture.

All three are diffusers / transformers models, so the pipeline's ``save_pretrained`` and
``from_pretrained`` write and read them as safetensors with their configs.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.loaders import PeftAdapterMixin
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from torch import nn

from .captions import VOCABULARY

__all__ = [
    "MiniVAE",
    "LatentDenoiser",
    "SPECIAL_TOKENS",
    "make_tokenizer",
    "make_text_encoder",
    "MAX_TOKENS",
]

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[BOS]", "[EOS]")
MAX_TOKENS = 12  # token ids per prompt, padded: BOS, up to 10 words and commas, EOS


class MiniVAE(ModelMixin, ConfigMixin):
    """Chapter 7's autoencoder as a diffusers model: ``(B, 1, 32, 32)`` <-> ``(B, C, 8, 8)``.

    ``encode`` returns the unscaled latents and ``decode`` takes them; the pipeline
    multiplies by ``config.scaling_factor`` after encoding and divides before decoding.
    """

    @register_to_config
    def __init__(self, latent_channels: int = 4, width: int = 16, scaling_factor: float = 1.0):
        super().__init__()
        from ..autoencoder import AEConfig, Decoder, Encoder

        config = AEConfig(latent_channels=latent_channels, width=width)
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    @classmethod
    def from_autoencoder(cls, model, latent_std: float) -> MiniVAE:
        """The trained chapter-7 ``Autoencoder`` ``model`` with its latent scale."""
        vae = cls(model.config.latent_channels, model.config.width, 1.0 / latent_std)
        vae.encoder.load_state_dict(model.encoder.state_dict())
        vae.decoder.load_state_dict(model.decoder.state_dict())
        return vae.eval()

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 28|32, 28|32)`` in [0, 1] -> latents ``(B, C, 8, 8)`` (unscaled)."""
        from ..autoencoder import pad32

        return self.encoder(pad32(images))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents ``(B, C, 8, 8)`` (unscaled) -> pictures ``(B, 1, 32, 32)`` in [0, 1]."""
        return torch.sigmoid(self.decoder(latents))


# ----------------------------------------------------------------------------- text


def make_tokenizer(words=VOCABULARY, max_length: int = MAX_TOKENS, eos: bool = True):
    """A word-level ``PreTrainedTokenizerFast`` over ``words`` and ``","``: ``"[BOS] a seven
    [EOS] [PAD] ..."``, padded to ``max_length``; text is lower-cased and ``"an"`` read as
    ``"a"``; an unknown word becomes ``[UNK]`` (the pipeline warns and names it). With
    ``eos=False`` an encoding is ``"[BOS] ..."`` alone, as a language model's prompt is
    (chapter 9's prompt model ends its own text with ``[EOS]``)."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(dict.fromkeys((*SPECIAL_TOKENS, ",", *words)))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    # lower case, and "an" read as "a" ("an eight" and "a eight" are the same tokens)
    tok.normalizer = normalizers.Sequence(
        [normalizers.Lowercase(), normalizers.Replace(Regex(r"\ban\b"), "a")]
    )
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    special = [("[BOS]", vocab["[BOS]"]), ("[EOS]", vocab["[EOS]"])]
    tok.post_processor = processors.TemplateProcessing(
        single="[BOS] $A [EOS]" if eos else "[BOS] $A",
        special_tokens=special if eos else special[:1],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        bos_token="[BOS]",
        eos_token="[EOS]",
        model_max_length=max_length,
        do_lower_case=True,
    )


def make_text_encoder(
    tokenizer, hidden_size: int = 128, layers: int = 2, heads: int = 4, positions: int = MAX_TOKENS
):
    """A small ``CLIPTextModel`` for ``tokenizer``: token ids ``(B, T ≤ positions)`` ->
    ``(B, T, hidden_size)``, trained from scratch with the denoiser."""
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=positions,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return CLIPTextModel(config)


# ----------------------------------------------------------------------------- denoiser


class _CrossAttention(nn.Module):
    """One query (the block's state) attends over the prompt's hidden states."""

    def __init__(self, width: int, text_dim: int, heads: int, head_dim: int = 64):
        super().__init__()
        self.heads, inner = heads, heads * head_dim
        self.norm = nn.LayerNorm(width)
        self.q = nn.Linear(width, inner, bias=False)
        self.kv = nn.Linear(text_dim, 2 * inner, bias=False)
        self.out = nn.Linear(inner, width)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self._memo: dict | None = None  # keys and values per prompt tensor, see reusing_text

    def _keys_and_values(self, text: torch.Tensor) -> torch.Tensor:
        if self._memo is None or torch.is_grad_enabled():
            return self.kv(text)
        # the memo holds the tensor itself, so its id cannot be reused while the entry lives
        key = (id(text), text._version)
        hit = self._memo.get(key)
        if hit is None or hit[0] is not text:
            hit = self._memo[key] = (text, self.kv(text))
        return hit[1]

    def forward(self, h: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        b = h.shape[0]
        q = self.q(self.norm(h)).view(b, self.heads, 1, -1)
        kv = self._keys_and_values(text)
        k, v = kv.view(b, text.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v)  # (B, heads, 1, head_dim)
        return self.out(attended.reshape(b, -1))


class _Block(nn.Module):
    """Cross-attention to the prompt, then an MLP told the noise level."""

    def __init__(self, width: int, text_dim: int, heads: int, time_dim: int, expansion: int):
        super().__init__()
        self.attention = _CrossAttention(width, text_dim, heads)
        self.norm = nn.LayerNorm(width)
        self.time = nn.Linear(time_dim, width)
        self.mlp = nn.Sequential(
            nn.Linear(width, expansion * width), nn.GELU(), nn.Linear(expansion * width, width)
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, h, temb, text):
        h = h + self.attention(h, text)
        return h + self.mlp(self.norm(h) + self.time(temb))


class LatentDenoiser(ModelMixin, ConfigMixin, PeftAdapterMixin):
    """The ``unet`` of the miniature model: a residual MLP on the flattened latent.

    ``forward(sample (B, C, S, S), timestep (B,) or scalar in [0, 1000], encoder_hidden_states
    (B, T, text_dim))`` -> the model's prediction ``(B, C, S, S)`` (here the flow-matching
    velocity ``noise - latent``), called as diffusers calls ``UNet2DConditionModel``.
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 4,
        sample_size: int = 8,
        width: int = 512,
        depth: int = 4,
        expansion: int = 4,
        text_dim: int = 128,
        heads: int = 4,
        time_dim: int = 128,
    ):
        super().__init__()
        features = in_channels * sample_size * sample_size
        self.time_proj = Timesteps(time_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(time_dim, time_dim)
        self.proj_in = nn.Linear(features, width)
        self.blocks = nn.ModuleList(
            _Block(width, text_dim, heads, time_dim, expansion) for _ in range(depth)
        )
        self.norm_out = nn.LayerNorm(width)
        self.proj_out = nn.Linear(width, features)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    @contextlib.contextmanager
    def reusing_text(self):
        """Within this block, with gradients off, each cross-attention projects a prompt's
        hidden states to keys and values once per tensor instead of once per call: the prompt
        is the same at every denoising step, so the pipeline's loop runs inside it (the
        results are the same, bit for bit; a third of the sampling time is saved)."""
        attentions = [block.attention for block in self.blocks]
        for attention in attentions:
            attention._memo = {}
        try:
            yield self
        finally:
            for attention in attentions:
                attention._memo = None

    def forward(self, sample, timestep, encoder_hidden_states, return_dict: bool = True):
        b = sample.shape[0]
        timestep = torch.as_tensor(timestep, device=sample.device, dtype=torch.float32)
        temb = self.time_embedding(self.time_proj(timestep.reshape(-1).expand(b)).to(sample))
        h = self.proj_in(sample.reshape(b, -1))
        for block in self.blocks:
            h = block(h, temb, encoder_hidden_states)
        out = self.proj_out(self.norm_out(h)).view_as(sample)
        if not return_dict:
            return (out,)
        from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

        return UNet2DConditionOutput(sample=out)
