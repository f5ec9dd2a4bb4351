"""The text-to-image pipeline (chapter 8): Stable Diffusion's call on the course's parts.

:class:`MiniDiffusionPipeline` is a ``diffusers.DiffusionPipeline`` with the components of
Stable Diffusion by name (``vae``, ``text_encoder``, ``tokenizer``, ``unet``, ``scheduler``)
and the call a Stable Diffusion user knows::

    pipe = load_shipped().pipeline   # load_shipped returns the pipeline with its record
    out = pipe(["a seven", "a bold digit"], negative_prompt=["", "seven"],
               guidance_scale=4.0, num_inference_steps=25,
               generator=torch.Generator().manual_seed(0))
    out.images          # (2, 1, 32, 32) in [0, 1] with output_type="pt"

:func:`classifier_free_guidance` is the one line of guidance the book shows: the negative
prompt's prediction takes the place of the empty prompt's.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch
from diffusers import DiffusionPipeline
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput

from .folders import check_folder

__all__ = [
    "MiniDiffusionPipeline",
    "classifier_free_guidance",
    "rescale_guidance",
    "unknown_words",
    "OUTPUT_TYPES",
]

OUTPUT_TYPES = ("pt", "pil", "latent")


def classifier_free_guidance(
    pred_negative: torch.Tensor, pred_prompt: torch.Tensor, scale: float
) -> torch.Tensor:
    """``pred_negative + scale * (pred_prompt - pred_negative)``: scale 1 is the prompt's
    prediction alone; larger scales move further from what the negative prompt (by default
    the empty prompt) predicts, towards what the prompt predicts.

    Computed as ``pred_prompt + (scale - 1) * (pred_prompt - pred_negative)``, the same
    number, so that scale 1 returns the prompt's prediction to the last bit."""
    return pred_prompt + (scale - 1) * (pred_prompt - pred_negative)


def rescale_guidance(guided: torch.Tensor, pred_prompt: torch.Tensor, rescale: float):
    """Lin et al. (2023), as in diffusers' Stable Diffusion: give the guided prediction the
    standard deviation of the prompt's prediction, mixed back with weight ``rescale``
    (0: unchanged), against the over-saturation of large guidance scales."""
    if rescale == 0:
        return guided
    dims = list(range(1, guided.ndim))
    rescaled = guided * (pred_prompt.std(dims, keepdim=True) / guided.std(dims, keepdim=True))
    return rescale * rescaled + (1 - rescale) * guided


def unknown_words(tokenizer, prompts: list[str]) -> list[str]:
    """The words of ``prompts`` that ``tokenizer`` does not know (they become its unknown
    token, which the model never saw in training)."""
    backend = tokenizer.backend_tokenizer
    unknown = []
    for text in prompts:
        normal = backend.normalizer.normalize_str(text) if backend.normalizer else text.lower()
        for word, _ in backend.pre_tokenizer.pre_tokenize_str(normal):
            # a word-level tokenizer gives [UNK] for a word it lacks; a word-piece one
            # (chapter 10's) splits a rare word into known pieces and is [UNK] only if none fit
            if tokenizer.unk_token in tokenizer.tokenize(word) and word not in unknown:
                unknown.append(word)
    return unknown


def _as_list(prompt, name: str) -> list[str]:
    if isinstance(prompt, str):
        return [prompt]
    if not isinstance(prompt, list | tuple) or not all(isinstance(p, str) for p in prompt):
        raise TypeError(
            f"{name} must be a string or a list of strings, not {type(prompt).__name__}"
        )
    if not prompt:
        raise ValueError(f"{name} is an empty list: give a string or at least one string")
    return list(prompt)


def _warn(message: str) -> None:
    """A warning pointing at the caller's line (the first frame outside this module and
    torch's ``no_grad`` wrapper), not at the pipeline's insides."""
    import sys

    frame, level = sys._getframe(1), 1
    while frame is not None and (
        frame.f_code.co_filename == __file__ or "torch" in Path(frame.f_code.co_filename).parts
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level + 1)


def _check_generator(generator) -> None:
    good = generator is None or isinstance(generator, torch.Generator)
    if isinstance(generator, list):
        good = bool(generator) and all(isinstance(g, torch.Generator) for g in generator)
    if not good:
        raise TypeError(
            f"generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)), a "
            f"list of them (one per picture) or None, not {generator!r}"
        )


class MiniDiffusionPipeline(DiffusionPipeline):
    """Text -> token ids ``(B, T)`` -> hidden states ``(B, T, D)``; noise ``(B, C, 8, 8)`` ->
    ``num_inference_steps`` guided denoising steps -> decoded pictures ``(B, 1, 32, 32)``."""

    model_cpu_offload_seq = "text_encoder->unet->vae"

    def __init__(self, vae, text_encoder, tokenizer, unet, scheduler):
        super().__init__()
        self.register_modules(
            vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler
        )

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        """diffusers' ``from_pretrained``, with a local folder (a ``str`` or a ``Path``)
        checked first (:func:`~noise2image.diffusion.folders.check_folder`: an incomplete
        folder is named, never half loaded) and read from its safetensors files only."""
        path = pretrained_model_name_or_path
        if isinstance(path, os.PathLike) or (isinstance(path, str) and Path(path).exists()):
            path = str(check_folder(path))
            kwargs.setdefault("use_safetensors", True)
        return super().from_pretrained(path, **kwargs)

    # ------------------------------------------------------------------ text

    def _warn_cut(self, prompts: list[str]) -> None:
        """diffusers' warning for a prompt longer than the tokenizer's length: name the
        words that were cut."""
        limit = self.tokenizer.model_max_length - self.tokenizer.num_special_tokens_to_add()
        for text in prompts:
            tokens = self.tokenizer.tokenize(text.lower())
            if len(tokens) > limit:
                cut = self.tokenizer.convert_tokens_to_string(tokens[limit:])
                _warn(
                    f"the prompt {text!r} is longer than the {limit} tokens (words or word "
                    f"pieces) the text encoder reads; this part was cut and has no effect: "
                    f"{cut!r}"
                )

    def _embed(self, prompts: list[str], device) -> torch.Tensor:
        self._warn_cut(prompts)
        ids = self.tokenizer(
            [p.lower() for p in prompts],
            padding="max_length",
            max_length=self.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids
        return self.text_encoder(ids.to(device))[0]

    def _warn_unknown(self, *texts) -> None:
        words = unknown_words(self.tokenizer, [t for group in texts for t in group])
        if words:
            _warn(
                "words the model does not know (ignored as an unknown token): " + ", ".join(words)
            )

    @torch.no_grad()
    def encode_prompt(
        self,
        prompt,
        device=None,
        num_images_per_prompt: int = 1,
        do_classifier_free_guidance: bool = True,
        negative_prompt=None,
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(prompt_embeds, negative_prompt_embeds)``, each ``(B * num_images_per_prompt, T,
        D)``, as Stable Diffusion's ``encode_prompt`` returns them. Precomputed embeddings are
        used as they are; a missing negative prompt is the empty prompt ``""``; the negative
        embeddings are ``None`` without guidance."""
        device = device or self._execution_device
        prompts = [] if prompt_embeds is not None else _as_list(prompt, "prompt")
        negatives = []
        if do_classifier_free_guidance and negative_prompt_embeds is None and negative_prompt:
            negatives = _as_list(negative_prompt, "negative_prompt")
        self._warn_unknown(prompts, negatives)
        if prompt_embeds is None:
            prompt_embeds = self._embed(prompts, device)
        batch = prompt_embeds.shape[0]
        negative = None
        if do_classifier_free_guidance:
            if negative_prompt_embeds is not None:
                negative = negative_prompt_embeds
            else:
                texts = (
                    [""] * batch
                    if negative_prompt is None
                    else _as_list(negative_prompt, "negative_prompt")
                )
                if len(texts) == 1 and batch > 1:
                    texts = texts * batch
                if len(texts) != batch:
                    raise ValueError(
                        f"negative_prompt has {len(texts)} entries but prompt has {batch}: "
                        "give one negative prompt, or one per prompt"
                    )
                negative = self._embed(texts, device)
            if negative.shape != prompt_embeds.shape:
                raise ValueError(
                    f"negative_prompt_embeds {tuple(negative.shape)} and prompt_embeds "
                    f"{tuple(prompt_embeds.shape)} must have the same shape"
                )
            negative = negative.to(device).repeat_interleave(num_images_per_prompt, 0)
        prompt_embeds = prompt_embeds.to(device).repeat_interleave(num_images_per_prompt, 0)
        return prompt_embeds, negative

    # ------------------------------------------------------------------ sampling

    def progress_bar(self, iterable=None, total=None):
        """The course's text progress bar (it survives in the static book)."""
        from ..progress import progress_bar

        config = getattr(self, "_progress_bar_config", {}) or {}
        return progress_bar(
            iterable,
            total=total,
            desc=config.get("desc", "denoising"),
            disable=config.get("disable", False),
        )

    def prepare_latents(self, batch: int, generator, device) -> torch.Tensor:
        """Starting noise ``(batch, C, S, S)``, drawn on the CPU from ``generator`` (so a seed
        gives the same pictures on every device) and scaled for the scheduler."""
        size = self.unet.config.sample_size
        channels = self.unet.config.in_channels
        generators = generator if isinstance(generator, list) else [generator] * batch
        if len(generators) != batch:
            raise ValueError(f"{len(generators)} generators for {batch} pictures")
        if isinstance(generator, list):
            noise = torch.cat(
                [torch.randn(1, channels, size, size, generator=g) for g in generators]
            )
        else:
            noise = torch.randn(batch, channels, size, size, generator=generator)
        return noise.to(device) * getattr(self.scheduler, "init_noise_sigma", 1.0)

    @torch.no_grad()
    def __call__(
        self,
        prompt=None,
        negative_prompt=None,
        guidance_scale: float = 4.0,
        num_inference_steps: int = 25,
        generator: torch.Generator | list[torch.Generator] | None = None,
        guidance_rescale: float = 0.0,
        guidance_interval: tuple[float, float] = (0.0, 1.0),
        num_images_per_prompt: int = 1,
        output_type: str = "pt",
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        latents: torch.Tensor | None = None,
        callback_on_step_end: Callable | None = None,
        return_dict: bool = True,
    ):
        """Pictures for ``prompt``, guided away from ``negative_prompt`` (default ``""``).

        ``guidance_scale`` > 1 turns on classifier-free guidance (1: the prompt's prediction
        alone), applied at the steps whose noise level (``t / num_train_timesteps``, sigma for
        flow matching) lies in ``guidance_interval`` (Kynkaanniemi et al., 2024; default:
        every step); ``callback_on_step_end(pipe, i, t, {"latents", "noise_pred"})`` is called
        after every step, as in diffusers. ``output_type``: ``"pt"`` (pictures ``(B, 1, 32,
        32)`` in [0, 1]), ``"pil"`` or ``"latent"``.
        """
        # 1. Check inputs: refuse bad arguments before any work, naming the argument
        self.check_inputs(
            prompt, prompt_embeds, guidance_scale, num_inference_steps, guidance_rescale,
            guidance_interval, output_type, num_images_per_prompt, generator, negative_prompt,
        )  # fmt: skip

        # 2. Define call parameters
        device = self._execution_device
        guided = guidance_scale > 1

        # 3. Encode input prompt (and the negative prompt, for guidance)
        prompt_embeds, negative_embeds = self.encode_prompt(
            prompt, device, num_images_per_prompt, guided, negative_prompt,
            prompt_embeds, negative_prompt_embeds,
        )  # fmt: skip
        batch = prompt_embeds.shape[0]
        context = torch.cat([negative_embeds, prompt_embeds]) if guided else prompt_embeds

        # 4. Prepare timesteps
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        timesteps = self.scheduler.timesteps
        self._check_interval(guidance_interval, timesteps, guided)

        # 5. Prepare latent variables
        if latents is None:
            latents = self.prepare_latents(batch, generator, device)
        else:
            self._check_latents(latents, batch)
            latents = latents.to(device)

        # 6. Denoising loop
        low, high = guidance_interval
        levels = self.scheduler.config.num_train_timesteps
        reuse = getattr(self.unet, "reusing_text", None)  # the prompt's keys and values once
        with reuse() if reuse is not None else nullcontext():
            for i, t in enumerate(self.progress_bar(timesteps)):
                guide = guided and low <= float(t) / levels <= high
                model_in = torch.cat([latents] * 2) if guide else latents
                if hasattr(self.scheduler, "scale_model_input"):
                    model_in = self.scheduler.scale_model_input(model_in, t)
                text = context if guide else prompt_embeds
                pred = self.unet(model_in, t, encoder_hidden_states=text, return_dict=False)[0]
                if guide:
                    pred_negative, pred_prompt = pred.chunk(2)
                    pred = classifier_free_guidance(pred_negative, pred_prompt, guidance_scale)
                    pred = rescale_guidance(pred, pred_prompt, guidance_rescale)
                step_generator = generator if isinstance(generator, torch.Generator) else None
                latents = self.scheduler.step(
                    pred, t, latents, generator=step_generator, return_dict=False
                )[0]
                if callback_on_step_end is not None:
                    callback_on_step_end(self, i, t, {"latents": latents, "noise_pred": pred})

        # 7. Decode the latents into pictures (refused if the denoising overflowed)
        if not torch.isfinite(latents).all():
            raise FloatingPointError(
                f"the latents overflowed to NaN or infinity during denoising (guidance_scale="
                f"{guidance_scale}, guidance_rescale={guidance_rescale}): lower guidance_scale"
            )
        if output_type == "latent":
            images = latents
        else:
            images = self.vae.decode(latents / self.vae.config.scaling_factor).clamp(0, 1)
            if output_type == "pil":
                images = self.numpy_to_pil(images.permute(0, 2, 3, 1).cpu().float().numpy())

        # 8. Offload all models
        self.maybe_free_model_hooks()
        if not return_dict:
            return (images,)
        return ImagePipelineOutput(images=images)

    def check_inputs(
        self,
        prompt,
        prompt_embeds,
        guidance_scale,
        num_inference_steps,
        guidance_rescale,
        guidance_interval,
        output_type,
        num_images_per_prompt,
        generator=None,
        negative_prompt=None,
    ) -> None:
        """Raise ``ValueError`` naming the argument and what is allowed (as diffusers'
        pipelines do), before any work. The numbers go through the course's one checker
        (:mod:`noise2image.profiles`), which also refuses NaN, infinity and booleans."""
        from ..profiles import check_float, check_int

        if prompt is None and prompt_embeds is None:
            raise ValueError("give a prompt (or prompt_embeds)")
        check_float("guidance_scale", guidance_scale, minimum=0.0)
        check_int("num_inference_steps", num_inference_steps, minimum=1)
        if not isinstance(guidance_interval, list | tuple) or len(guidance_interval) != 2:
            raise ValueError(
                f"guidance_interval must be (low, high) noise levels with 0 <= low <= high "
                f"<= 1, got {guidance_interval!r}"
            )
        low = check_float("guidance_interval[0]", guidance_interval[0], minimum=0.0, maximum=1.0)
        high = check_float("guidance_interval[1]", guidance_interval[1], minimum=0.0, maximum=1.0)
        if high < low:
            raise ValueError(
                f"guidance_interval must be (low, high) noise levels with 0 <= low <= high "
                f"<= 1, got {guidance_interval!r}"
            )
        check_float("guidance_rescale", guidance_rescale, minimum=0.0, maximum=1.0)
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}")
        check_int("num_images_per_prompt", num_images_per_prompt, minimum=1)
        _check_generator(generator)
        texts = [negative_prompt] if isinstance(negative_prompt, str) else negative_prompt or []
        texts = list(dict.fromkeys(t for t in texts if t))  # the distinct non-empty ones
        if texts and guidance_scale <= 1:
            _warn(
                f"negative_prompt {', '.join(map(repr, texts))} has no effect with guidance_scale="
                f"{guidance_scale}: the negative prompt acts through guidance, which needs "
                "guidance_scale > 1"
            )

    def _check_latents(self, latents: torch.Tensor, batch: int) -> None:
        config = self.unet.config
        shape = (batch, config.in_channels, config.sample_size, config.sample_size)
        if not isinstance(latents, torch.Tensor) or tuple(latents.shape) != shape:
            got = tuple(latents.shape) if isinstance(latents, torch.Tensor) else type(latents)
            raise ValueError(
                f"latents must be a tensor of shape {shape} (pictures x channels x size x "
                f"size), got {got}"
            )
        if not torch.isfinite(latents).all():
            raise ValueError("latents hold NaN or infinity: they must be finite numbers")

    def _check_interval(self, interval, timesteps, guided: bool) -> None:
        if not guided:
            return
        levels = self.scheduler.config.num_train_timesteps
        low, high = interval
        if not any(low <= float(t) / levels <= high for t in timesteps):
            _warn(
                f"guidance_interval={tuple(interval)} holds none of the {len(timesteps)} "
                f"steps' noise levels (from {float(timesteps[0]) / levels:.3g} to "
                f"{float(timesteps[-1]) / levels:.3g}): no step is guided"
            )
