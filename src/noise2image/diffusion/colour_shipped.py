"""Chapter 10's shipped colour model: its fixed configuration, the folder inside the package,
the command that re-creates it and the checked loading.

* :data:`SHIPPED` -- the configuration (with its seed) the shipped model was trained with;
* :func:`retrain_shipped` -- trains the autoencoder, the denoiser and the emoji classifier
  from scratch on the CPU and writes the folder
  (``python -m noise2image.shipped retrain diffusion-emoji``; resumable);
* :func:`load_shipped` -- the pipeline and the classifier, every file's SHA-256 checked
  against ``shipped.json`` first, with no network;
* :func:`shipped_record` -- ``shipped.json``: configuration, traces, times, checksums.

The training itself is :mod:`noise2image.diffusion.colour_train`'s.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path

import torch

from ..checkpoints import cache_dir
from .colour_train import (
    ColourDiffusionConfig,
    ColourResult,
    build_colour_pipeline,
    train_colour_diffusion,
)
from .colour_vae import ColourVAE, ColourVAEConfig, train_colour_vae
from .train import check_out_folder, folder_files, publish_folder

__all__ = ["SHIPPED", "shipped_folder", "load_shipped", "shipped_record", "retrain_shipped"]


SHIPPED = ColourDiffusionConfig()
"""The shipped model's configuration (fixed, with its seed)."""
_META = "shipped.json"
_NAME = "diffusion-emoji"


def shipped_folder() -> Path:
    """The shipped model's folder inside the package: ``vae/``, ``unet/``, ``scheduler/``
    (diffusers' layout), ``classifier/`` and ``shipped.json``. The text encoder is not in
    it: it loads from its own wheel (:mod:`~noise2image.diffusion.pretrained_text`)."""
    from importlib import resources

    return Path(str(resources.files("noise2image"))) / "checkpoints" / "diffusion_emoji"


def _config_from_dict(values: dict) -> ColourDiffusionConfig:
    values = dict(values)
    values["vae"] = ColourVAEConfig(**values["vae"])
    return ColourDiffusionConfig(**values)


def save_shipped(result: ColourResult, classifier, out: str | Path, extra: dict) -> dict:
    """Write the trained parts into ``out`` (replaced only once the new folder is complete)
    with ``shipped.json``: configuration, trace, ``extra`` and every file's SHA-256."""
    import json
    import shutil

    from safetensors.torch import save_file

    out = check_out_folder(out)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pipe = result.pipeline.to("cpu")
    pipe.vae.save_pretrained(tmp / "vae", safe_serialization=True)
    # the denoiser's 23 M weights stored as float16 (44 MB instead of 89 MB in the wheel);
    # they load back as float32, and the shipped model is what this file holds
    from .folders import quiet_hub

    with quiet_hub():  # diffusers' advice about casting with .to(): no module here needs it
        unet = copy.deepcopy(pipe.unet).to(torch.float16)
        unet.save_pretrained(tmp / "unet", safe_serialization=True)
    pipe.scheduler.save_pretrained(tmp / "scheduler")
    model, classes = classifier
    (tmp / "classifier").mkdir(parents=True)
    save_file(model.state_dict(), str(tmp / "classifier" / "model.safetensors"))
    (tmp / "classifier" / "classes.json").write_text(json.dumps(classes, indent=0) + "\n")
    meta = {
        "config": dataclasses.asdict(result.config),
        "files": folder_files(tmp),
        "train_seconds": round(result.train_seconds, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "command": f"python -m noise2image.shipped retrain {_NAME}",
        "unet dtype": "float16 on disk, float32 when loaded",
        "trace": result.trace,
        **extra,
    }
    return publish_folder(tmp, out, meta)


def shipped_record(folder: str | Path | None = None) -> dict:
    """The shipped model's ``shipped.json``: configuration, training traces (denoiser,
    autoencoder, classifier), times, the command that made it, every file's SHA-256."""
    import json

    folder = Path(folder) if folder else shipped_folder()
    return json.loads((folder / _META).read_text())


def load_shipped(device: str | torch.device = "cpu", folder: str | Path | None = None):
    """``(ColourResult, classifier, classes)``: the shipped pipeline and emoji classifier,
    every file's SHA-256 checked against ``shipped.json`` first (a changed, missing or extra
    file raises :class:`~noise2image.checkpoints.CheckpointError`), with no network."""
    import json

    from diffusers import FlowMatchEulerDiscreteScheduler
    from safetensors.torch import load_file

    from ..checkpoints import CheckpointError
    from .emoji_classifier import EmojiNet
    from .folders import quiet_hub
    from .model import LatentDenoiser
    from .pretrained_text import load_text_encoder

    folder = Path(folder) if folder else shipped_folder()
    meta_path = folder / _META
    if not meta_path.is_file():
        raise CheckpointError(
            f"no shipped colour model at {folder}: run "
            f"`python -m noise2image.shipped retrain {_NAME}`"
        )
    try:
        meta = json.loads(meta_path.read_text())
        config = _config_from_dict(meta["config"])
        expected = meta["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{meta_path} is not a shipped model's record ({exc})") from exc
    actual = folder_files(folder)
    if actual != expected:
        differ = sorted(f for f in set(actual) | set(expected) if actual.get(f) != expected.get(f))
        raise CheckpointError(f"the shipped colour model's files do not match: {differ}")
    with quiet_hub():
        vae = ColourVAE.from_pretrained(folder / "vae", use_safetensors=True)
        unet = LatentDenoiser.from_pretrained(
            folder / "unet", use_safetensors=True, torch_dtype=torch.float32
        )
        scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(folder / "scheduler")
    tokenizer, encoder = load_text_encoder()
    pipe = build_colour_pipeline(vae, tokenizer, encoder, unet, device)
    pipe.scheduler = scheduler
    classes = json.loads((folder / "classifier" / "classes.json").read_text())
    classifier = EmojiNet(len(classes), meta["classifier"]["width"])
    classifier.load_state_dict(load_file(str(folder / "classifier" / "model.safetensors")))
    result = ColourResult(config, pipe, meta["trace"], meta["train_seconds"])
    return result, classifier.to(device).eval(), classes


def retrain_shipped(
    config: ColourDiffusionConfig = SHIPPED,
    out: str | Path | None = None,
    progress: bool = True,
    classifier_config=None,
) -> dict:
    """Train the autoencoder, the denoiser and the emoji classifier from scratch with their
    fixed configurations and seeds, on the CPU, and write the shipped folder (``out``:
    elsewhere). Each training resumes from the course cache after an interruption."""
    from .emoji_captions import training_set
    from .emoji_classifier import ClassifierConfig, train_emoji_classifier

    check_out_folder(out or shipped_folder())  # before the training, not after it
    data = training_set()
    vae = train_colour_vae(data.images, config.vae, progress=progress)
    work = cache_dir() / "colour" / f"shipped-{config.key()}.pt"
    result = train_colour_diffusion(config, checkpoint=work, progress=progress, vae=vae.vae)
    classifier_config = classifier_config or ClassifierConfig()
    started = time.perf_counter()
    model, classes, trace = train_emoji_classifier(
        data.images, data.entries, classifier_config, progress=progress
    )
    extra = {
        "vae": {
            "held_out_psnr": round(vae.held_out_psnr, 3),
            "train_seconds": round(vae.train_seconds, 1),
            "trace": vae.trace,
        },
        "classifier": {
            **dataclasses.asdict(classifier_config),
            "train_seconds": round(time.perf_counter() - started, 1),
            "trace": trace,
        },
    }
    return save_shipped(result, (model, classes), out or shipped_folder(), extra)
