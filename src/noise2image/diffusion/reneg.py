"""ReNeg (Li et al., 2024): the negative *embedding* itself learned by gradient, through
classifier-free guidance and the last sampling steps, against a differentiable reward
(:func:`learn_negative_embedding`); :func:`nearest_words` reads what it learned.

It uses the pipeline's own ``unet``, ``scheduler`` and ``vae`` and changes none of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..profiles import check_int
from .captions import VOCABULARY
from .prompts import CoursePrompt

__all__ = [
    "learn_negative_embedding",
    "nearest_words",
]


def _sharp_probability(detector, images):
    """The defect detector's log-probability that each picture is clean (differentiable)."""
    return detector(images).log_softmax(1)[:, 0]


def learn_negative_embedding(
    pipe,
    prompts: Sequence[CoursePrompt],
    detector,
    steps: int = 60,
    batch: int = 16,
    grad_steps: int = 3,
    lr: float = 0.02,
    sharpness_weight: float = 1.0,
    guidance_scale: float = 4.0,
    num_inference_steps: int = 20,
    seed: int = 0,
    progress: bool = True,
) -> tuple[torch.Tensor, list[dict]]:
    """ReNeg at the course's scale: one negative embedding ``(1, T, D)``, started at the empty
    prompt's, learned by back-propagating ``log p(prompted digit) + sharpness_weight * log
    p(clean)`` (the course classifier and the defect ``detector``) through the vae and the
    last ``grad_steps`` guided Euler steps (the earlier steps run without gradients). The
    pipeline's networks are not changed. Returns the embedding and a trace."""
    from ..features import load_feature_net
    from ..progress import progress_bar
    from .evaluate import crop28
    from .pipeline import classifier_free_guidance

    check_int("grad_steps", grad_steps, minimum=1, maximum=num_inference_steps)
    unet, vae, scheduler = pipe.unet, pipe.vae, pipe.scheduler
    device = unet.device
    net = load_feature_net().to(device)
    for module in (unet, vae, pipe.text_encoder, net, detector):
        module.requires_grad_(False)
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        embeds = {
            p.text: pipe.encode_prompt(p.text, device, do_classifier_free_guidance=False)[0]
            for p in prompts
        }
        empty = pipe.encode_prompt("", device, do_classifier_free_guidance=False)[0]
    negative = empty.clone().requires_grad_(True)
    opt = torch.optim.Adam([negative], lr=lr)
    scheduler.set_timesteps(num_inference_steps, device=device)
    timesteps, sigmas = scheduler.timesteps, scheduler.sigmas.to(device)
    unet_config = unet.config
    trace = []
    for step in progress_bar(range(steps), desc="negative embedding", disable=not progress):
        chosen = torch.randint(len(prompts), (batch,), generator=rng).tolist()
        text = torch.cat([embeds[prompts[i].text] for i in chosen])
        digits = torch.tensor([prompts[i].digit for i in chosen], device=device)
        latents = torch.randn(
            batch,
            unet_config.in_channels,
            unet_config.sample_size,
            unet_config.sample_size,
            generator=rng,
        ).to(device)
        for i, t in enumerate(timesteps):
            grad = i >= len(timesteps) - grad_steps
            with torch.set_grad_enabled(grad):
                neg = negative if grad else negative.detach()
                context = torch.cat([neg.expand(batch, -1, -1), text])
                pred = unet(
                    torch.cat([latents] * 2), t, encoder_hidden_states=context, return_dict=False
                )[0]
                pred_neg, pred_pos = pred.chunk(2)
                velocity = classifier_free_guidance(pred_neg, pred_pos, guidance_scale)
                latents = (
                    latents + (sigmas[i + 1] - sigmas[i]) * velocity
                )  # Euler, as the scheduler
        images = crop28(vae.decode(latents / vae.config.scaling_factor).clamp(0, 1))
        log_p = net(images).log_softmax(1).gather(1, digits[:, None]).squeeze(1)
        sharp = _sharp_probability(detector, images)
        loss = -(log_p + sharpness_weight * sharp).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        trace.append(
            {
                "step": step + 1,
                "log p(digit)": log_p.mean().item(),
                "log p(clean)": sharp.mean().item(),
                "loss": loss.item(),
            }
        )
    return negative.detach(), trace


@torch.no_grad()
def nearest_words(pipe, embeds: torch.Tensor, words: Sequence[str] = VOCABULARY, k: int = 5):
    """The ``k`` vocabulary words whose one-word prompt moves the text encoder's output most
    like ``embeds`` does, both measured from the empty prompt's output: ``[(word, cosine)]``."""
    empty = pipe.encode_prompt("", do_classifier_free_guidance=False)[0]
    move = (embeds.to(empty) - empty).flatten()
    rows = []
    for word in words:
        e = pipe.encode_prompt(word, do_classifier_free_guidance=False)[0]
        rows.append((word, F.cosine_similarity(move, (e - empty).flatten(), dim=0).item()))
    return sorted(rows, key=lambda r: -r[1])[:k]
