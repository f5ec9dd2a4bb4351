"""Training the miniature text-to-image model (chapter 8), and the shipped model.

Flow matching (rectified flow, as in Stable Diffusion 3): a training latent ``x0`` (the
vae's latent of a captioned picture, scaled to unit variance) and Gaussian noise ``e`` are
mixed as ``x = (1 - sigma) x0 + sigma e`` at a random noise level ``sigma`` (logit-normal);
the denoiser, reading the caption through the text encoder, predicts the velocity
``e - x0``. Sampling walks from pure noise (``sigma = 1``) to a picture (``sigma = 0``) with
diffusers' ``FlowMatchEulerDiscreteScheduler``. Text encoder and denoiser train together;
the pictures are sampled from a moving average of their weights.

* :class:`DiffusionConfig` -- sizes and training, one frozen dataclass;
* :func:`train_step` -- one update, the lesson's code;
* :func:`train_diffusion` -- the loop, resumable after an interrupt;
* :func:`train_or_load` -- a trained pipeline, trained only when no finished checkpoint with
  this configuration is cached;
* :func:`load_shipped` / :func:`retrain_shipped` -- the shipped pipeline folder, checked by
  SHA-256 file by file (``python -m noise2image.shipped retrain diffusion-digits``).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..autoencoder import AEConfig
from ..checkpoints import CheckpointError, cache_dir, check_save_folder, config_key, sha256_file
from ..profiles import check_float, check_int
from .captions import CaptionConfig
from .folders import quiet_hub

__all__ = [
    "training_data",
    "DiffusionConfig",
    "DiffusionResult",
    "SHIPPED",
    "make_scheduler",
    "build_pipeline",
    "flow_matching_loss",
    "train_step",
    "train_diffusion",
    "train_or_load",
    "load_shipped",
    "retrain_shipped",
    "shipped_folder",
]


@dataclass(frozen=True)
class DiffusionConfig:
    """The miniature model's sizes and training (the shipped one is :data:`SHIPPED`)."""

    width: int = 512  # the denoiser's hidden width
    depth: int = 4  # residual blocks (cross-attention + MLP each)
    expansion: int = 4  # MLP width / width
    text_dim: int = 128  # the text encoder's hidden size
    text_layers: int = 2
    epochs: int = 60  # passes over the captioned copies
    batch_size: int = 256
    lr: float = 5e-4
    warmup: int = 200  # steps of linear learning-rate warm-up
    ema_decay: float = 0.999
    seed: int = 0
    limit: int | None = None  # caption only the first `limit` training digits (smoke runs)
    captions: CaptionConfig = field(default_factory=CaptionConfig)
    vae: AEConfig = field(default_factory=lambda: AEConfig(perceptual_weight=1.0))

    def __post_init__(self):
        check_int("width", self.width, minimum=8, maximum=4096)
        check_int("depth", self.depth, minimum=1, maximum=64)
        check_int("expansion", self.expansion, minimum=1, maximum=16)
        check_int("text_dim", self.text_dim, minimum=8, maximum=1024)
        check_int("text_layers", self.text_layers, minimum=1, maximum=12)
        check_int("epochs", self.epochs, minimum=1, maximum=100_000)
        check_int("batch_size", self.batch_size, minimum=1, maximum=65_536)
        check_float("lr", self.lr, minimum=1e-7, maximum=1.0)
        check_int("warmup", self.warmup, minimum=0)
        check_float("ema_decay", self.ema_decay, minimum=0.0, maximum=1.0)
        check_int("seed", self.seed, minimum=0)
        if self.limit is not None:
            check_int("limit", self.limit, minimum=10)

    def key(self) -> str:
        """A short hash of the configuration: the checkpoint's name."""
        return config_key(self)


SHIPPED = DiffusionConfig(epochs=100)


@dataclass
class DiffusionResult:
    """A trained (or loaded) pipeline with its training trace."""

    config: DiffusionConfig
    pipeline: object  # MiniDiffusionPipeline
    trace: list[dict]
    loaded: bool = False
    train_seconds: float = 0.0


def make_scheduler():
    """The sampler the model was trained for: diffusers' flow-matching Euler scheduler."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)


def _networks(config: DiffusionConfig):
    from .model import LatentDenoiser, make_text_encoder, make_tokenizer

    tokenizer = make_tokenizer()
    text_encoder = make_text_encoder(tokenizer, config.text_dim, config.text_layers)
    unet = LatentDenoiser(
        in_channels=config.vae.latent_channels,
        width=config.width,
        depth=config.depth,
        expansion=config.expansion,
        text_dim=config.text_dim,
    )
    return tokenizer, text_encoder, unet


def build_pipeline(vae, tokenizer, text_encoder, unet, device="cpu"):
    """The five components as a :class:`MiniDiffusionPipeline` on ``device``, in eval mode,
    its progress bar off (the chapters turn it on where a bar helps)."""
    from .pipeline import MiniDiffusionPipeline

    for part in (vae, text_encoder, unet):
        part.eval().requires_grad_(False)
    pipe = MiniDiffusionPipeline(vae, text_encoder, tokenizer, unet, make_scheduler())
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def _vae(config: DiffusionConfig, progress: bool, device):
    from .. import autoencoder
    from .model import MiniVAE

    ae = autoencoder.train_or_load(config.vae, progress=progress, device=device)
    return MiniVAE.from_autoencoder(ae.model, ae.latent_std).to(device)


def flow_matching_loss(unet, text_encoder, latents, ids, rng: torch.Generator) -> torch.Tensor:
    """The flow-matching loss on a batch of scaled latents ``(B, C, 8, 8)`` and their
    captions' token ids ``(B, T)``: noise the latents to a random level, predict the
    velocity ``noise - latents`` from the caption, the mean squared error."""
    b = latents.shape[0]
    noise = torch.randn(latents.shape, generator=rng).to(latents)
    sigma = torch.sigmoid(torch.randn(b, generator=rng)).to(latents)  # logit-normal levels
    s = sigma.view(-1, 1, 1, 1)
    noisy = (1 - s) * latents + s * noise
    text = text_encoder(ids)[0]  # (B, T, D)
    pred = unet(noisy, sigma * 1000, encoder_hidden_states=text, return_dict=False)[0]
    return F.mse_loss(pred, noise - latents)


def train_step(unet, text_encoder, opt, latents, ids, rng: torch.Generator) -> float:
    """One update on :func:`flow_matching_loss`."""
    loss = flow_matching_loss(unet, text_encoder, latents, ids, rng)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def training_data(config: DiffusionConfig, vae, tokenizer, device):
    """``config``'s captioned digits as the denoiser trains on them: ``(latents, token ids,
    the captioned data)``, latents scaled by the vae's ``scaling_factor`` (also chapter 9's
    prior for DreamBooth's prior preservation)."""
    from .captions import captioned_digits

    data = captioned_digits(config.captions, seed=config.seed, limit=config.limit)
    with torch.no_grad():
        latents = torch.cat([vae.encode(p.to(device)) for p in data.images.split(1000)])
    ids = tokenizer(
        data.captions, padding="max_length", max_length=tokenizer.model_max_length,
        truncation=True, return_tensors="pt",
    ).input_ids  # fmt: skip
    return latents * vae.config.scaling_factor, ids.to(device), data


def train_diffusion(
    config: DiffusionConfig,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
    evaluate_every: int = 10,
    save_every: int = 5,
    vae=None,
) -> DiffusionResult:
    """Train text encoder and denoiser together for ``config.epochs`` epochs on ``device``.

    Every ``evaluate_every`` epochs (and after the last) the trace gets the share of 200
    pictures (``"a zero"`` ... ``"a nine"``, 10 steps, guidance 4) that the course classifier
    reads as the digit asked for. With ``checkpoint``, the run is saved atomically every
    ``save_every`` epochs and an interrupted run resumes from its last save. ``vae``: a
    trained :class:`~noise2image.diffusion.model.MiniVAE` made with ``config.vae`` (the
    shipped pipeline's, say); by default chapter 7's ``train_or_load`` gives it.
    """
    from ..progress import progress_bar
    from ..training import resume, save_progress, update_average
    from .evaluate import asked_accuracy

    torch.manual_seed(config.seed)
    rng = torch.Generator().manual_seed(config.seed)
    vae = _vae(config, progress, device) if vae is None else vae.to(device)
    tokenizer, text_encoder, unet = _networks(config)
    text_encoder, unet = text_encoder.to(device), unet.to(device)
    ema_text, ema_unet = copy.deepcopy(text_encoder), copy.deepcopy(unet)
    latents, ids, _ = training_data(config, vae, tokenizer, device)
    params = [*text_encoder.parameters(), *unet.parameters()]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    steps = len(latents) // config.batch_size
    warm = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: min(1.0, (step + 1) / max(1, config.warmup))
    )
    parts = {
        "text_encoder": text_encoder, "unet": unet, "ema_text_encoder": ema_text,
        "ema_unet": ema_unet, "opt": opt, "warmup": warm,
    }  # fmt: skip
    trace, _ = resume(checkpoint, asdict(config), parts, rng)
    pipe = build_pipeline(vae, tokenizer, ema_text, ema_unet, device)
    bar = progress_bar(
        total=(config.epochs - len(trace)) * steps, desc="diffusion", disable=not progress
    )
    for epoch in range(len(trace) + 1, config.epochs + 1):
        started = time.perf_counter()
        text_encoder.train(), unet.train()
        order = torch.randperm(len(latents), generator=rng).to(device)
        total = 0.0
        for step in range(steps):
            chosen = order[step * config.batch_size : (step + 1) * config.batch_size]
            total += train_step(unet, text_encoder, opt, latents[chosen], ids[chosen], rng)
            warm.step()
            done = (epoch - 1) * steps + step
            update_average(ema_text, text_encoder, config.ema_decay, done)
            update_average(ema_unet, unet, config.ema_decay, done)
            bar.update(1)
        row = {"epoch": epoch, "loss": total / steps, "seconds": time.perf_counter() - started}
        if epoch % evaluate_every == 0 or epoch == config.epochs:
            row["classified as asked"] = asked_accuracy(pipe, per_digit=20, steps=10)
        trace.append(row)
        if checkpoint is not None and (epoch % save_every == 0 or epoch == config.epochs):
            save_progress(checkpoint, asdict(config), parts, rng, trace)
    bar.close()
    return DiffusionResult(config, pipe, trace, train_seconds=sum(r["seconds"] for r in trace))


def checkpoint_path(config: DiffusionConfig) -> Path:
    """Where :func:`train_or_load` keeps the training run for ``config``."""
    return cache_dir() / "diffusion" / f"diffusion-{config.key()}.pt"


def train_or_load(
    config: DiffusionConfig, progress: bool = True, device: str | torch.device = "cpu", vae=None
) -> DiffusionResult:
    """A trained pipeline for ``config`` on ``device``: loaded if a finished checkpoint with
    this exact configuration is cached, otherwise trained (resuming an interrupted run).
    A corrupt or mismatched checkpoint is reported and removed, never loaded."""
    from ..training import load_finished

    path = checkpoint_path(config)
    state = load_finished(path, asdict(config), config.epochs)
    if state is None:
        return train_diffusion(config, path, progress, device, vae=vae)
    tokenizer, text_encoder, unet = _networks(config)
    text_encoder.load_state_dict(state["ema_text_encoder"])
    unet.load_state_dict(state["ema_unet"])
    vae = _vae(config, progress, device) if vae is None else vae.to(device)
    trace = json.loads(state["trace"])
    print(f"loaded the trained diffusion model from {path}")
    pipe = build_pipeline(vae, tokenizer, text_encoder, unet, device)
    return DiffusionResult(
        config, pipe, trace, loaded=True, train_seconds=sum(r["seconds"] for r in trace)
    )


# ----------------------------------------------------------------------------- shipped

_META = "shipped.json"


def shipped_folder() -> Path:
    """The shipped pipeline folder inside the package (``save_pretrained``'s layout)."""
    from importlib import resources

    return Path(str(resources.files("noise2image"))) / "checkpoints" / "diffusion_digits"


def folder_files(folder: Path) -> dict[str, str]:
    """Every file of a shipped folder (``shipped.json`` left out) with its SHA-256."""
    return {
        str(p.relative_to(folder)): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != _META
    }


def load_shipped(device: str | torch.device = "cpu", folder: str | os.PathLike | None = None):
    """The shipped text-to-image pipeline on ``device``, with no network: every file's SHA-256
    is checked against ``shipped.json`` first (a changed, missing or extra file is refused
    with :class:`~noise2image.checkpoints.CheckpointError`). Returns a
    :class:`DiffusionResult` (its ``trace`` is the shipped training trace)."""
    from .pipeline import MiniDiffusionPipeline

    folder = Path(folder) if folder else shipped_folder()
    meta_path = folder / _META
    if not meta_path.exists():
        raise CheckpointError(
            f"no shipped diffusion model at {folder}: run "
            "`python -m noise2image.shipped retrain diffusion-digits`"
        )
    try:
        meta = json.loads(meta_path.read_text())
        meta["files"], meta["config"], meta["trace"]  # noqa: B018 - present, or refused here
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"{meta_path} is not a shipped model's record ({type(exc).__name__}: {exc}): "
            "re-create it with `python -m noise2image.shipped retrain diffusion-digits`"
        ) from exc
    actual = folder_files(folder)
    if actual != meta["files"]:
        changed = sorted(
            name
            for name in set(actual) | set(meta["files"])
            if actual.get(name) != meta["files"].get(name)
        )
        raise CheckpointError(f"the shipped diffusion model's files do not match: {changed}")
    with quiet_hub():
        pipe = MiniDiffusionPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    config = _config_from_dict(meta["config"])
    return DiffusionResult(
        config, pipe.to(device), meta["trace"], loaded=True, train_seconds=meta["train_seconds"]
    )


def _config_from_dict(values: dict) -> DiffusionConfig:
    values = dict(values)
    values["captions"] = CaptionConfig(**values["captions"])
    values["vae"] = AEConfig(**values["vae"])
    return DiffusionConfig(**values)


def check_out_folder(out: str | os.PathLike) -> Path:
    """``out`` as a folder :func:`save_folder` may write: new, empty, or one it wrote before
    (a ``shipped.json`` listing every file in it). Anything else is refused, before any
    training, naming what is in the way: a save never removes what it did not write."""
    out = Path(out)
    known = {_META}
    if (out / _META).is_file():
        try:
            known |= set(json.loads((out / _META).read_text())["files"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"out={str(out)!r} holds an unreadable {_META}: {exc}") from exc
    return check_save_folder(out, "out", known)


def save_folder(result: DiffusionResult, out: str | os.PathLike, command: str) -> dict:
    """Write ``result``'s pipeline with ``save_pretrained`` into ``out`` (replaced whole, only
    once the new folder is complete) and ``shipped.json``: configuration, training trace and
    the SHA-256 of every file. ``out`` must pass :func:`check_out_folder`."""
    out = check_out_folder(out)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    result.pipeline.to("cpu").save_pretrained(tmp, safe_serialization=True)
    meta = {
        "config": asdict(result.config),
        "files": folder_files(tmp),
        "train_seconds": round(result.train_seconds, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "command": command,
        "trace": result.trace,
    }
    return publish_folder(tmp, out, meta)


def publish_folder(tmp: Path, out: Path, meta: dict) -> dict:
    """Write ``meta`` as ``tmp/shipped.json`` and put the complete folder ``tmp`` in the
    place of ``out`` (the old one removed only once the new one is in place)."""
    (tmp / _META).write_text(json.dumps(meta, indent=1) + "\n")
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return meta


def retrain_shipped(
    config: DiffusionConfig = SHIPPED, out: str | os.PathLike | None = None
) -> dict:
    """Train ``config`` (default :data:`SHIPPED`) from scratch on the CPU, deterministically
    where torch allows, and write the shipped folder (``out``: elsewhere)."""
    check_out_folder(out or shipped_folder())  # before the training, not after it
    torch.use_deterministic_algorithms(True)
    work = cache_dir() / "diffusion" / f"shipped-{config.key()}.pt"
    result = train_diffusion(config, checkpoint=work)
    return save_folder(
        result, out or shipped_folder(), "python -m noise2image.shipped retrain diffusion-digits"
    )
