"""The "wrong" LoRA (chapter 9): Max Woolf's negative LoRA (SDXL, 2023) on the course model.

His recipe: make the model draw deliberately bad pictures (all the quality keywords in the
prompt, one emphasised at a time, at high guidance scales), train a DreamBooth LoRA on them
under a new word, ``wrong``, and then generate with the LoRA loaded and
``negative_prompt="wrong"``. Here, with the ecosystem's pieces:

* :func:`bad_set` -- the model's own bad pictures: the quality words with one repeated (the
  emphasis), several guidance scales, few sampling steps; returned as latents and pictures;
* :func:`add_token` -- the word added to the tokenizer and the text encoder's embeddings
  resized, as textual inversion and DreamBooth do;
* :func:`train_wrong_lora` -- a ``peft`` ``LoraConfig`` added to the denoiser (diffusers'
  ``PeftAdapterMixin.add_adapter``), trained with the new word's embedding row on captions
  ``"wrong"``, with DreamBooth's prior preservation on pictures the frozen model drew
  (:func:`drawn_prior`; or, as before, on the captioned training digits);
* :func:`save_adapter` / :func:`load_adapter` -- the adapter alone (``save_lora_adapter``'s
  safetensors plus the word's embedding, in textual inversion's ``learned_embeds`` format);
* :func:`lora_scale` -- switch the adapter off, on, or to a scale, without reloading;
* :func:`random_words` -- words with random embeddings as long as the learned one's: the
  null distribution a learned negative embedding must beat.

Woolf's comparison itself (the runs, the controls and the claims they decide) is in
:mod:`noise2image.diffusion.woolf`.

The adapter changes only the denoiser (LoRA) and one embedding row (the new word); with the
adapter disabled or at scale 0 the pipeline draws exactly the base model's pictures.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from ..profiles import check_float, check_int
from .captions import DEFECTS

__all__ = [
    "WrongConfig",
    "BadSet",
    "DrawnPrior",
    "drawn_prior",
    "random_words",
    "WrongResult",
    "bad_prompts",
    "bad_set",
    "add_token",
    "token_embedding",
    "dreambooth_step",
    "train_wrong_lora",
    "save_adapter",
    "load_adapter",
    "lora_scale",
    "ADAPTER",
]

ADAPTER = "wrong"  # the adapter's name in the denoiser
EMBEDS_FILE = "learned_embeds.safetensors"
LORA_FILE = "pytorch_lora_weights.safetensors"


@dataclass(frozen=True)
class WrongConfig:
    """The bad set, the LoRA and its training.

    The bad set is ``len(words) * len(guidance_scales) * len(steps) * per_setting`` pictures.
    """

    token: str = "wrong"
    words: tuple[str, ...] = DEFECTS  # the quality words; each emphasised in turn
    guidance_scales: tuple[float, ...] = (6.0, 8.0, 10.0, 12.0)  # high, as his 8-13 for SDXL
    steps: tuple[int, ...] = (4, 8)  # few sampling steps
    per_setting: int = 20
    rank: int = 4  # diffusers' DreamBooth LoRA script's default
    alpha: float = 4.0
    target_modules: tuple[str, ...] = ("q", "kv", "out", "mlp.0", "mlp.2")
    train_steps: int = 400
    batch_size: int = 64
    lr: float = 1e-3
    prior_weight: float = 1.0  # DreamBooth's prior preservation: 0 trains on the bad set alone
    seed: int = 0

    def __post_init__(self):
        if not self.token.isalpha() or not self.token.islower():
            raise ValueError(f"token must be one lower-case word, got {self.token!r}")
        unknown = [w for w in self.words if w not in DEFECTS]
        if unknown or not self.words:
            raise ValueError(f"words must be quality words among {DEFECTS}, got {self.words!r}")
        for scale in self.guidance_scales:
            check_float("guidance_scales", scale, minimum=1.0)
        for steps in self.steps:
            check_int("steps", steps, minimum=1, maximum=1000)
        check_int("per_setting", self.per_setting, minimum=1)
        check_int("rank", self.rank, minimum=1)
        check_float("alpha", self.alpha, minimum=0.0)
        check_int("train_steps", self.train_steps, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_float("lr", self.lr, minimum=0.0)
        check_float("prior_weight", self.prior_weight, minimum=0.0)
        if not self.target_modules:
            raise ValueError("target_modules must name at least one layer of the denoiser")


@dataclass
class BadSet:
    """The model's own bad pictures: scaled latents ``(N, C, 8, 8)``, pictures ``(N, 1, 28,
    28)``, and for each its prompt, guidance scale and number of steps."""

    latents: torch.Tensor
    images: torch.Tensor
    prompts: list[str]
    scales: list[float]
    steps: list[int]


@dataclass
class WrongResult:
    config: WrongConfig
    trace: list[dict]
    train_seconds: float
    trainable: int  # trained parameters: the LoRA's and the new word's embedding row


def bad_prompts(words=DEFECTS) -> list[str]:
    """All the quality words, one emphasised in turn by writing it twice (the course's
    prompts have no ``(word:1.4)`` syntax): ``"blurry, blurry, noisy, faint, pixelated"``."""
    return [", ".join([w, *words]) for w in words]


@torch.no_grad()
def bad_set(pipe, config: WrongConfig = WrongConfig(), progress: bool = True) -> BadSet:
    """Woolf's recipe at the course's scale: for every emphasised word, guidance scale and
    number of steps, ``config.per_setting`` pictures from the base model itself."""
    from ..progress import progress_bar
    from .evaluate import crop28

    generator = torch.Generator().manual_seed(config.seed)
    settings = [
        (p, g, s)
        for p in bad_prompts(config.words)
        for g in config.guidance_scales
        for s in config.steps
    ]
    latents, prompts, scales, steps = [], [], [], []
    was = getattr(pipe, "_progress_bar_config", {})
    pipe.set_progress_bar_config(disable=True)
    try:
        for prompt, scale, n in progress_bar(settings, desc="bad set", disable=not progress):
            out = pipe(
                [prompt] * config.per_setting,
                guidance_scale=scale,
                num_inference_steps=n,
                generator=generator,
                output_type="latent",
            ).images
            latents.append(out)
            prompts += [prompt] * config.per_setting
            scales += [scale] * config.per_setting
            steps += [n] * config.per_setting
    finally:
        pipe._progress_bar_config = was
    latents = torch.cat(latents)
    vae = pipe.vae
    scale = vae.config.scaling_factor
    images = torch.cat([crop28(vae.decode(p / scale)).clamp(0, 1) for p in latents.split(500)])
    images = images.cpu()
    return BadSet(latents, images, prompts, scales, steps)


@dataclass
class DrawnPrior:
    """DreamBooth's prior as its paper makes it: pictures the frozen model drew for the
    prompts it is to keep, as scaled latents ``(N, C, 8, 8)`` with their prompts."""

    latents: torch.Tensor
    prompts: list[str]


@torch.no_grad()
def drawn_prior(
    pipe, prompts, seed: int = 0, progress: bool = True, batch_size: int = 250, **call
) -> DrawnPrior:
    """DreamBooth's class-prior pictures: ``pipe`` (the frozen base model, before the adapter
    is added) draws one picture for each of ``prompts`` (``call``: the sampler's settings,
    such as ``guidance_scale`` and ``num_inference_steps``). Training on them keeps what the
    model *did* draw for those prompts, where the captioned training digits would add new
    supervised data (Ruiz et al., 2023, section 3.3)."""
    from ..progress import progress_bar

    prompts = list(prompts)
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise ValueError("prompts must be one or more prompts (strings) to draw the prior for")
    check_int("batch_size", batch_size, minimum=1)
    generator = torch.Generator().manual_seed(seed)
    was = getattr(pipe, "_progress_bar_config", {})
    pipe.set_progress_bar_config(disable=True)
    latents = []
    try:
        starts = range(0, len(prompts), batch_size)
        for start in progress_bar(starts, desc="prior", disable=not progress):
            chunk = prompts[start : start + batch_size]
            latents.append(pipe(chunk, generator=generator, output_type="latent", **call).images)
    finally:
        pipe._progress_bar_config = was
    return DrawnPrior(torch.cat(latents).cpu(), prompts)


def _embeddings(pipe) -> torch.nn.Embedding:
    return pipe.text_encoder.get_input_embeddings()


def add_token(pipe, token: str = "wrong") -> int:
    """Add ``token`` to ``pipe.tokenizer`` and resize the text encoder's embeddings (the new
    row initialised by transformers from the old rows' mean and covariance); returns its id.
    A token the tokenizer already has is left as it is."""
    tokenizer = pipe.tokenizer
    if tokenizer.convert_tokens_to_ids(token) != tokenizer.unk_token_id:
        return tokenizer.convert_tokens_to_ids(token)
    tokenizer.add_tokens([token])
    from .folders import quiet_hub

    with quiet_hub():  # transformers logs how it initialises the new row (mean and covariance)
        pipe.text_encoder.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    return tokenizer.convert_tokens_to_ids(token)


def token_embedding(pipe, token: str = "wrong") -> torch.Tensor:
    """The input embedding ``(D,)`` of ``token``."""
    return _embeddings(pipe).weight[pipe.tokenizer.convert_tokens_to_ids(token)].detach()


def random_words(pipe, k: int, seed: int = 0, like: str = "wrong") -> list[str]:
    """Add ``k`` words (``random1`` ... ``randomk``) whose embedding rows point in random
    directions (Gaussian, drawn with ``seed``) and are as long as the learned word ``like``'s
    row: the null distribution a learned negative embedding is compared with. Returns the
    words. The base model's rows and the learned word's are not changed."""
    check_int("k", k, minimum=1)
    tokenizer = pipe.tokenizer
    if tokenizer.convert_tokens_to_ids(like) in (None, tokenizer.unk_token_id):
        raise ValueError(f"like={like!r} is not a word the tokenizer knows (train it first)")
    norm = token_embedding(pipe, like).norm()
    generator = torch.Generator().manual_seed(seed)
    words = [f"random{i + 1}" for i in range(k)]
    for word in words:
        token_id = add_token(pipe, word)
        weight = _embeddings(pipe).weight
        direction = torch.randn(weight.shape[1], generator=generator)
        with torch.no_grad():
            weight[token_id] = (norm * direction / direction.norm()).to(weight)
    return words


def _lora_config(config: WrongConfig):
    from peft import LoraConfig

    return LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        target_modules=list(config.target_modules),
        init_lora_weights="gaussian",  # B = 0: the adapter starts as the identity
    )


def dreambooth_step(unet, text_encoder, opt, bad, prior, prior_weight: float, rng):
    """One DreamBooth update: the flow-matching loss on a batch ``bad`` = (latents, token
    ids) of the bad set captioned with the new word, plus ``prior_weight`` times the loss on
    a batch ``prior`` of captioned training digits (prior preservation; ``None``: none).
    Only what ``opt`` holds (the LoRA, the new word's row) moves. Returns both losses."""
    from .train import flow_matching_loss

    loss = flow_matching_loss(unet, text_encoder, *bad, rng)
    bad_loss, prior_loss = loss.item(), float("nan")
    if prior is not None:
        kept = flow_matching_loss(unet, text_encoder, *prior, rng)
        prior_loss = kept.item()
        loss = loss + prior_weight * kept
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return bad_loss, prior_loss


def train_wrong_lora(
    pipe, bad: BadSet, config: WrongConfig = WrongConfig(), prior=None, progress: bool = True
) -> WrongResult:
    """Train the "wrong" adapter into ``pipe`` (in place): a LoRA on the denoiser's layers
    ``config.target_modules`` and the embedding row of the new word ``config.token``, on the
    flow-matching loss of the bad set's latents captioned ``"wrong"``, plus
    ``config.prior_weight`` times the loss on the prior (DreamBooth's prior preservation,
    so that other prompts keep their meaning). Everything else is frozen. ``prior``: a
    :class:`DrawnPrior` (pictures the frozen model drew, as DreamBooth does it), or a
    :class:`~noise2image.diffusion.train.DiffusionConfig` whose captioned training digits
    are the prior (default: the shipped model's; extra supervised data rather than a
    prior). The trace has one row per tenth of the steps."""
    from ..progress import progress_bar
    from .train import SHIPPED, training_data

    torch.manual_seed(config.seed)
    rng = torch.Generator().manual_seed(config.seed)
    unet, text_encoder, tokenizer = pipe.unet, pipe.text_encoder, pipe.tokenizer
    device = unet.device
    token_id = add_token(pipe, config.token)
    if ADAPTER in getattr(unet, "peft_config", {}):
        unet.delete_adapters(ADAPTER)
    unet.add_adapter(_lora_config(config), adapter_name=ADAPTER)
    unet.set_adapters([ADAPTER], [1.0])
    text_encoder.requires_grad_(False)
    embedding = _embeddings(pipe).weight
    embedding.requires_grad_(True)
    keep = torch.zeros(len(embedding), 1, device=embedding.device)
    keep[token_id] = 1.0
    hook = embedding.register_hook(lambda grad: grad * keep)  # only the new word's row learns
    lora = [p for n, p in unet.named_parameters() if "lora_" in n]
    for name, p in unet.named_parameters():
        p.requires_grad_("lora_" in name)
    opt = torch.optim.AdamW([*lora, embedding], lr=config.lr, weight_decay=0.0)

    bad_ids = tokenizer(
        [config.token] * len(bad.latents),
        padding="max_length",
        max_length=tokenizer.model_max_length,
        return_tensors="pt",
    ).input_ids.to(device)
    bad_latents = bad.latents.to(device)
    prior_latents = prior_ids = None
    if config.prior_weight > 0 and isinstance(prior, DrawnPrior):
        prior_latents = prior.latents.to(device)
        prior_ids = tokenizer(
            prior.prompts, padding="max_length", max_length=tokenizer.model_max_length,
            truncation=True, return_tensors="pt",
        ).input_ids.to(device)  # fmt: skip
    elif config.prior_weight > 0:
        prior_latents, prior_ids, _ = training_data(prior or SHIPPED, pipe.vae, tokenizer, device)
    trace, started = [], time.perf_counter()
    every = max(1, config.train_steps // 10)
    unet.train()
    bar = progress_bar(range(config.train_steps), desc="wrong LoRA", disable=not progress)
    try:
        for step in bar:
            chosen = torch.randint(len(bad_latents), (config.batch_size,), generator=rng)
            bad_batch = (bad_latents[chosen], bad_ids[chosen])
            prior_batch = None
            if prior_latents is not None:
                chosen = torch.randint(len(prior_latents), (config.batch_size,), generator=rng)
                prior_batch = (prior_latents[chosen], prior_ids[chosen])
            bad_loss, prior_loss = dreambooth_step(
                unet, text_encoder, opt, bad_batch, prior_batch, config.prior_weight, rng
            )
            if (step + 1) % every == 0 or step + 1 == config.train_steps:
                trace.append(
                    {
                        "step": step + 1,
                        "loss on the bad set": bad_loss,
                        "prior loss": prior_loss,
                        "seconds": time.perf_counter() - started,
                    }
                )
    finally:
        hook.remove()
        embedding.requires_grad_(False)
        unet.requires_grad_(False)
        unet.eval()
    trainable = sum(p.numel() for p in lora) + embedding.shape[1]
    return WrongResult(config, trace, time.perf_counter() - started, trainable)


def save_adapter(pipe, folder: str | os.PathLike, token: str = "wrong") -> Path:
    """Write the adapter alone to ``folder``: the LoRA (diffusers' ``save_lora_adapter``, a
    safetensors file with its ``LoraConfig``) and the new word's embedding
    (``learned_embeds.safetensors``, ``{token: (D,)}``, textual inversion's format). Both
    are written to a temporary folder first and moved into place, so an interrupted save
    leaves no half-written adapter.

    ``folder`` must be new, empty, or an adapter this function saved (only its two files):
    a folder holding anything else, or a file, is refused, so a save never removes what it
    did not write. ``token`` must be a word the tokenizer knows (the learned one)."""
    import shutil

    from safetensors.torch import save_file

    folder = Path(folder)
    from ..checkpoints import check_save_folder

    check_save_folder(folder, "folder", {LORA_FILE, EMBEDS_FILE})
    unknown = pipe.tokenizer.unk_token_id
    if pipe.tokenizer.convert_tokens_to_ids(token) in (None, unknown):
        added = sorted(getattr(pipe.tokenizer, "added_tokens_encoder", {}) or {})
        raise ValueError(
            f"token={token!r} is not a word the tokenizer knows; the learned word is one of: "
            f"{', '.join(repr(t) for t in added) or '(none added)'}"
        )
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    from .folders import quiet_hub

    with quiet_hub():  # diffusers warns about a dtype cast that save_lora_adapter itself asks for
        pipe.unet.save_lora_adapter(partial, adapter_name=ADAPTER)
    save_file({token: token_embedding(pipe, token).cpu().contiguous()}, partial / EMBEDS_FILE)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


def load_adapter(pipe, folder: str | os.PathLike) -> str:
    """Load an adapter written by :func:`save_adapter` into ``pipe`` (its word added to the
    tokenizer if needed); returns the word. The base weights are not touched."""
    from safetensors.torch import load_file

    folder = Path(folder)
    missing = [f for f in (LORA_FILE, EMBEDS_FILE) if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a saved adapter: {', '.join(missing)} missing")
    embeds = load_file(folder / EMBEDS_FILE)
    ((token, vector),) = embeds.items()
    token_id = add_token(pipe, token)
    with torch.no_grad():
        _embeddings(pipe).weight[token_id] = vector.to(_embeddings(pipe).weight)
    if ADAPTER in getattr(pipe.unet, "peft_config", {}):
        pipe.unet.delete_adapters(ADAPTER)
    from .folders import quiet_hub

    with quiet_hub():
        pipe.unet.load_lora_adapter(
            str(folder),
            prefix=None,
            adapter_name=ADAPTER,
            weight_name=LORA_FILE,
            local_files_only=True,
        )
    pipe.unet.set_adapters([ADAPTER], [1.0])
    return token


@contextmanager
def lora_scale(pipe, scale: float):
    """Within the block the adapter acts at ``scale`` (0: disabled, the base model exactly;
    1: as trained); afterwards it is back at 1. No weights are reloaded."""
    check_float("scale", scale, minimum=0.0)
    unet = pipe.unet
    if scale == 0:
        unet.disable_adapters()
    else:
        unet.set_adapters([ADAPTER], [float(scale)])
    try:
        yield pipe
    finally:
        unet.enable_adapters()
        unet.set_adapters([ADAPTER], [1.0])
