"""What a reader is shown of one pipeline call (chapters 8 and 10): the data flow stage by
stage with its shapes, and one prompt's way from noise to picture with the model's guess of
the final picture at each step. Both read a :class:`~noise2image.diffusion.pipeline.
MiniDiffusionPipeline` from outside, through its components and diffusers'
``callback_on_step_end``.
"""

from __future__ import annotations

import torch

__all__ = ["stages", "prediction_trace"]


@torch.no_grad()
def stages(pipe, prompt: str, num_inference_steps: int = 25) -> list[tuple[str, tuple, str]]:
    """The data flow for one prompt, stage by stage: ``(stage, shape, what it is)``."""
    tokens = pipe.tokenizer(
        prompt.lower(), padding="max_length", max_length=pipe.tokenizer.model_max_length,
        return_tensors="pt",
    ).input_ids  # fmt: skip
    embeds, _ = pipe.encode_prompt(prompt, do_classifier_free_guidance=False)
    c, s = pipe.unet.config.in_channels, pipe.unet.config.sample_size
    words = pipe.tokenizer.convert_ids_to_tokens(tokens[0])
    with torch.no_grad():
        picture = tuple(pipe.vae.decode(torch.zeros(1, c, s, s, device=pipe.device)).shape)
    return [
        ("prompt", (1,), repr(prompt)),
        ("token ids", tuple(tokens.shape), " ".join(words)),
        ("text hidden states", tuple(embeds.shape), "text_encoder(token ids)[0]"),
        ("starting noise", (1, c, s, s), "Gaussian, drawn from the generator"),
        ("denoising", (1, c, s, s), f"{num_inference_steps} steps of unet + scheduler.step"),
        ("decoded picture", picture, "vae.decode(latent / scaling_factor)"),
    ]


@torch.no_grad()
def prediction_trace(
    pipe, prompt: str, seed: int = 0, num_inference_steps: int = 25, every: int = 5, **kwargs
) -> list[dict]:
    """One prompt's way from noise to picture, every ``every`` steps (and the last): the
    noise level, the latent ``(C, 8, 8)``, its decoded picture and the model's guess of the
    final picture at that step, ``latent - sigma * velocity`` decoded (flow-matching
    schedulers: the ``sigmas`` of ``pipe.scheduler``)."""
    rows = []
    scale = pipe.vae.config.scaling_factor

    def record(pipe_, i, t, values):
        last = i == num_inference_steps - 1
        if (i + 1) % every and not last:
            return
        sigma = float(pipe_.scheduler.sigmas[i + 1])
        latents, velocity = values["latents"], values["noise_pred"]
        guess = latents - sigma * velocity
        rows.append({
            "step": i + 1,
            "sigma": sigma,
            "latent": latents[0].cpu(),
            "decoded": pipe_.vae.decode(latents[:1] / scale)[0].cpu(),
            "final guess": pipe_.vae.decode(guess[:1] / scale)[0].cpu(),
        })  # fmt: skip

    generator = torch.Generator().manual_seed(seed)
    pipe(prompt, generator=generator, num_inference_steps=num_inference_steps,
         callback_on_step_end=record, **kwargs)  # fmt: skip
    return rows
