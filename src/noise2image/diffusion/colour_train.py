"""Chapter 10's training run: chapter 8's pipeline on 64 × 64 × 3 emoji with a frozen
pretrained text encoder.

The parts, as Stable Diffusion has them:

* ``vae``: :class:`~noise2image.diffusion.colour_vae.ColourVAE` (64×64×3 ↔ 4×16×16);
* ``text_encoder`` / ``tokenizer``: all-MiniLM-L6-v2, frozen
  (:mod:`~noise2image.diffusion.pretrained_text`); each caption's token states are computed
  once before training (the encoder never changes), as SD's fine-tuning scripts may cache
  them;
* ``unet``: chapter 8's :class:`~noise2image.diffusion.model.LatentDenoiser` on the
  16 × 16 × 4 latent, reading the 384-wide token states by cross-attention;
* ``scheduler``: flow matching with diffusers' Euler scheduler, as chapter 8.

Captions: each training picture has the four captions of
:func:`~noise2image.diffusion.emoji_captions.caption_variants`; a step draws one of them per
picture, and the empty caption with probability ``caption_dropout`` (what classifier-free
guidance needs).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoints import atomic_write, cache_dir, config_key
from ..profiles import ParameterError, check_float, check_int
from .colour_vae import ColourVAE, ColourVAEConfig, train_colour_vae

__all__ = [
    "ColourDiffusionConfig",
    "ColourResult",
    "caption_states",
    "train_colour_diffusion",
    "build_colour_pipeline",
    "TEXT_ENCODERS",
    "caption_words",
    "scratch_text_encoder",
]


@dataclasses.dataclass(frozen=True)
class ColourDiffusionConfig:
    """The denoiser's training run; ``vae`` is the autoencoder's run it builds on."""

    vae: ColourVAEConfig = ColourVAEConfig()
    width: int = 768
    depth: int = 4
    expansion: int = 4
    epochs: int = 180
    batch_size: int = 128
    lr: float = 3e-4
    warmup: int = 200
    ema_decay: float = 0.999
    caption_dropout: float = 0.1
    limit: int | None = None
    seed: int = 0
    text_encoder: str = "pretrained"  # or "from scratch": chapter 8's, trained with it

    def __post_init__(self):
        check_int("width", self.width, minimum=16, maximum=4096)
        check_int("depth", self.depth, minimum=1, maximum=32)
        check_int("expansion", self.expansion, minimum=1, maximum=8)
        check_int("epochs", self.epochs, minimum=1, maximum=10_000)
        check_int("batch_size", self.batch_size, minimum=1, maximum=4096)
        check_float("lr", self.lr, minimum=1e-6, maximum=1.0)
        check_int("warmup", self.warmup, minimum=0)
        check_float("ema_decay", self.ema_decay, minimum=0.0, maximum=0.99999)
        check_float("caption_dropout", self.caption_dropout, minimum=0.0, maximum=1.0)
        if self.limit is not None:
            check_int("limit", self.limit, minimum=8)
        check_int("seed", self.seed, minimum=0)
        if self.text_encoder not in TEXT_ENCODERS:
            raise ParameterError(
                f"text_encoder must be one of {TEXT_ENCODERS}, got {self.text_encoder!r}"
            )

    def key(self) -> str:
        return config_key(self)


TEXT_ENCODERS = ("pretrained", "from scratch")
"""``"pretrained"``: all-MiniLM-L6-v2, frozen (the shipped model). ``"from scratch"``:
chapter 8's encoder (a word-level tokenizer over the training captions' words and a
2-layer, 128-wide ``CLIPTextModel``) trained together with the denoiser, for comparison."""
SCRATCH_WIDTH, SCRATCH_LAYERS = 128, 2


def caption_words(captions: list[str]) -> list[str]:
    """The words of ``captions`` as chapter 8's word-level tokenizer splits them (lower
    case, punctuation apart), in order of first use: the only words a from-scratch encoder
    can know."""
    from tokenizers import pre_tokenizers

    split = pre_tokenizers.Whitespace()
    words = (w for c in captions for w, _ in split.pre_tokenize_str(c.lower()))
    return list(dict.fromkeys(words))


def scratch_text_encoder(captions: list[str], seed: int = 0):
    """``(tokenizer, encoder)``: chapter 8's from-scratch text encoder for ``captions``
    (untrained, initialised from ``seed``; 32 tokens like the pretrained one)."""
    from .model import make_text_encoder, make_tokenizer
    from .pretrained_text import MAX_TOKENS

    tokenizer = make_tokenizer(caption_words(captions), max_length=MAX_TOKENS)
    torch.manual_seed(seed)
    return tokenizer, make_text_encoder(
        tokenizer, SCRATCH_WIDTH, SCRATCH_LAYERS, positions=MAX_TOKENS
    )


@dataclasses.dataclass
class ColourResult:
    config: ColourDiffusionConfig
    pipeline: object  # MiniDiffusionPipeline
    trace: list[dict]
    train_seconds: float = 0.0


def caption_states(captions: list[str], tokenizer, encoder, batch: int = 256) -> torch.Tensor:
    """Token states ``(N, 32, 384)`` (float16) of ``captions``, as the pipeline computes
    them; cached in the course cache by the captions and the encoder's weights."""
    from .pretrained_text import SHA256, encode

    key = hashlib.sha256(("\n".join(captions) + SHA256).encode()).hexdigest()[:16]
    path = cache_dir() / "colour" / f"caption-states-{key}.npy"
    if path.exists():
        try:
            return torch.from_numpy(np.load(path, allow_pickle=False))
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    states = torch.cat(
        [
            encode(tokenizer, encoder, captions[i : i + batch])[0]
            for i in range(0, len(captions), batch)
        ]
    ).half()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        np.save(handle, states.numpy(), allow_pickle=False)
    return states


def build_colour_pipeline(vae, tokenizer, text_encoder, unet, device="cpu"):
    """The five components as chapter 8's :class:`MiniDiffusionPipeline`, in eval mode."""
    from .pipeline import MiniDiffusionPipeline
    from .pretrained_text import MAX_TOKENS
    from .train import make_scheduler

    for part in (vae, text_encoder, unet):
        part.eval().requires_grad_(False)
    tokenizer.model_max_length = MAX_TOKENS
    pipe = MiniDiffusionPipeline(vae, text_encoder, tokenizer, unet, make_scheduler())
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def _training_arrays(config: ColourDiffusionConfig, vae: ColourVAE):
    """``(scaled latents (N, 4, 16, 16), the caption variants of each picture (V N; V = 4
    from :func:`~noise2image.diffusion.emoji_captions.caption_variants`), the pictures)``."""
    from .emoji_captions import caption_variants, training_set

    data = training_set()
    if config.limit is not None:
        keep = np.random.default_rng(config.seed).permutation(len(data))[: config.limit]
        data = data.subset(np.sort(keep))
    pictures = torch.from_numpy(data.images).permute(0, 3, 1, 2).float().div(255)
    with torch.no_grad():
        latents = torch.cat([vae.encode(b) for b in pictures.split(256)])
    latents = latents * vae.config.scaling_factor
    variants = [
        v for e, c in zip(data.entries, data.colours, strict=True) for v in caption_variants(e, c)
    ]
    return latents, variants, data


class _FrozenText:
    """The pretrained encoder's token states, computed once: ``(caption rows)`` -> states."""

    def __init__(self, variants: list[str]):
        from .pretrained_text import load_text_encoder

        self.tokenizer, self.encoder = load_text_encoder()
        states = caption_states(variants + [""], self.tokenizer, self.encoder)
        self.rows, self.empty = states[:-1], states[-1]
        self.dim = states.shape[-1]
        self.parts: dict = {}

    def __call__(self, rows: torch.Tensor, dropped: torch.Tensor) -> torch.Tensor:
        text = self.rows[rows].float()
        text[dropped] = self.empty.float()
        return text


class _ScratchText:
    """Chapter 8's encoder trained with the denoiser: ``(caption rows)`` -> its states."""

    def __init__(self, variants: list[str], config: ColourDiffusionConfig):
        from .pretrained_text import MAX_TOKENS

        with torch.random.fork_rng():  # the denoiser's start is the same as the pretrained's
            self.tokenizer, self.encoder = scratch_text_encoder(variants, config.seed + 1)
        ids = self.tokenizer(
            variants + [""], padding="max_length", max_length=MAX_TOKENS, truncation=True,
            return_tensors="pt",
        ).input_ids  # fmt: skip
        self.rows, self.empty = ids[:-1], ids[-1]
        self.dim = SCRATCH_WIDTH
        self.ema = copy.deepcopy(self.encoder)
        self.parts = {"text_encoder": self.encoder, "ema_text_encoder": self.ema}

    def __call__(self, rows: torch.Tensor, dropped: torch.Tensor) -> torch.Tensor:
        ids = self.rows[rows].clone()
        ids[dropped] = self.empty
        return self.encoder(ids)[0]


def _vae(config: ColourVAEConfig, progress: bool) -> ColourVAE:
    from .emoji_captions import training_set

    return train_colour_vae(training_set().images, config, progress=progress).vae


def train_colour_diffusion(
    config: ColourDiffusionConfig = ColourDiffusionConfig(),
    checkpoint: str | Path | None = None,
    progress: bool = True,
    vae: ColourVAE | None = None,
    save_every: int = 10,
) -> ColourResult:
    """Train the denoiser for ``config.epochs`` epochs; the pretrained text encoder stays
    frozen, chapter 8's (``config.text_encoder="from scratch"``) trains with it.
    With ``checkpoint``, the run is saved every ``save_every`` epochs (the file holds the
    weights, their average and the optimiser: ~370 MB) and resumes after an interruption.
    ``vae``: a trained autoencoder (by default ``config.vae``'s run)."""
    from ..progress import progress_bar
    from ..training import resume, save_progress, update_average
    from .model import LatentDenoiser

    torch.manual_seed(config.seed)
    rng = torch.Generator().manual_seed(config.seed)
    vae = _vae(config.vae, progress) if vae is None else vae
    vae.eval().requires_grad_(False)
    latents, variants, _ = _training_arrays(config, vae)
    scratch = config.text_encoder == "from scratch"
    text = _ScratchText(variants, config) if scratch else _FrozenText(variants)
    unet = LatentDenoiser(
        in_channels=config.vae.latent_channels,
        sample_size=16,
        width=config.width,
        depth=config.depth,
        expansion=config.expansion,
        text_dim=text.dim,
    )
    ema = copy.deepcopy(unet)
    params = [*unet.parameters(), *(text.encoder.parameters() if scratch else ())]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    warm = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: min(1.0, (step + 1) / max(1, config.warmup))
    )
    parts = {"unet": unet, "ema_unet": ema, "opt": opt, "warmup": warm, **text.parts}
    trace, _ = resume(checkpoint, dataclasses.asdict(config), parts, rng)
    steps = max(1, len(latents) // config.batch_size)
    per_picture = len(variants) // len(latents)  # the same number of captions for each
    bar = progress_bar(total=config.epochs, desc="colour diffusion", disable=not progress)
    bar.update(len(trace))
    for epoch in range(len(trace) + 1, config.epochs + 1):
        started = time.perf_counter()
        unet.train()
        text.encoder.train(scratch)
        order = torch.randperm(len(latents), generator=rng)
        total = 0.0
        for step in range(steps):
            chosen = order[step * config.batch_size : (step + 1) * config.batch_size]
            b = len(chosen)
            variant = torch.randint(0, per_picture, (b,), generator=rng)
            dropped = torch.rand(b, generator=rng) < config.caption_dropout
            states = text(chosen * per_picture + variant, dropped)
            x = latents[chosen]
            noise = torch.randn(x.shape, generator=rng)
            sigma = torch.sigmoid(torch.randn(b, generator=rng))  # logit-normal levels
            s = sigma.view(-1, 1, 1, 1)
            pred = unet((1 - s) * x + s * noise, sigma * 1000, states, return_dict=False)[0]
            loss = F.mse_loss(pred, noise - x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            warm.step()
            done = (epoch - 1) * steps + step
            update_average(ema, unet, config.ema_decay, done)
            if scratch:
                update_average(text.ema, text.encoder, config.ema_decay, done)
            total += loss.item()
        trace.append(
            {"epoch": epoch, "loss": total / steps, "seconds": time.perf_counter() - started}
        )
        bar.update(1)
        bar.set_postfix(loss=f"{total / steps:.4f}")
        if checkpoint is not None and (epoch % save_every == 0 or epoch == config.epochs):
            save_progress(checkpoint, dataclasses.asdict(config), parts, rng, trace)
    bar.close()
    pipe = build_colour_pipeline(vae, text.tokenizer, text.ema if scratch else text.encoder, ema)
    return ColourResult(config, pipe, trace, sum(r["seconds"] for r in trace))
