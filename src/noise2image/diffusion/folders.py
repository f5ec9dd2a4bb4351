"""A pipeline's folder on disk (chapters 8-10): checked before diffusers reads it, and
diffusers' and transformers' loading output kept quiet while a local folder loads.

>>> check_folder("my_pipeline")   # FileNotFoundError naming the missing part, or the Path
>>> with quiet_hub():
...     pipe = MiniDiffusionPipeline.from_pretrained("my_pipeline")
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

__all__ = ["check_folder", "quiet_hub"]


@contextmanager
def quiet_hub():
    """diffusers' and transformers' loading bars and warnings off within the block (a local
    folder loads in a blink; their bars would fill a chapter's output)."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    levels = diffusers_logging.get_verbosity(), transformers_logging.get_verbosity()
    diffusers_logging.disable_progress_bar(), transformers_logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error(), transformers_logging.set_verbosity_error()
    try:
        yield
    finally:
        diffusers_logging.enable_progress_bar(), transformers_logging.enable_progress_bar()
        diffusers_logging.set_verbosity(levels[0]), transformers_logging.set_verbosity(levels[1])


_MODEL_FILES = {"vae": "diffusion_pytorch_model", "unet": "diffusion_pytorch_model",
                "text_encoder": "model"}  # fmt: skip


def check_folder(folder: str | os.PathLike) -> Path:
    """A local pipeline folder ``save_pretrained`` wrote, checked before diffusers reads it:
    ``model_index.json`` and every component it names, with its config and (for the three
    networks) safetensors weights. Raises ``FileNotFoundError`` naming what is missing."""
    folder = Path(folder)
    index = folder / "model_index.json"
    if not index.is_file():
        raise FileNotFoundError(
            f"{folder} has no model_index.json: not a folder pipe.save_pretrained() wrote"
        )
    missing = []
    for name in json.loads(index.read_text("utf-8")):
        if name.startswith("_"):
            continue
        part = folder / name
        if not part.is_dir() or not any(part.glob("*.json")):
            missing.append(f"{name}/ (its config)")
        elif name in _MODEL_FILES and not any(part.glob(f"{_MODEL_FILES[name]}*.safetensors")):
            missing.append(f"{name}/{_MODEL_FILES[name]}.safetensors (its weights)")
    if missing:
        raise FileNotFoundError(
            f"the pipeline folder {folder} is incomplete: missing {', '.join(missing)}; "
            "save it again with pipe.save_pretrained(folder)"
        )
    return folder
