"""NegOpt's reward (Ogezi & Shi, 2024) for the course model: aesthetics (clarity), alignment
(the judge reads the asked digit and style) and fidelity (closeness to real digits), each
normalised, weighted by :class:`RewardWeights`, computed on fixed seeds and cached.

The reward reaches the pipeline only through ``negative_prompt``; every (prompt, negative)
pair is drawn in a call of its own shape, so its score does not depend on the batch it was
asked in, on any CPU.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..profiles import check_float, check_int
from .prompts import CoursePrompt

__all__ = [
    "RewardWeights",
    "PARTS",
    "Reward",
]


@dataclass(frozen=True)
class RewardWeights:
    """The reward's weights: NegOpt's aesthetics, alignment and fidelity."""

    aesthetics: float = 1.0
    alignment: float = 1.0
    fidelity: float = 1.0

    def __post_init__(self):
        for name in ("aesthetics", "alignment", "fidelity"):
            check_float(name, getattr(self, name), minimum=0.0)
        if self.aesthetics + self.alignment + self.fidelity == 0:
            raise ValueError("at least one reward weight must be above 0")


PARTS = ("aesthetics", "alignment", "fidelity")


class Reward:
    """The reward of a (prompt, negative prompt) pair, on fixed seeds.

    ``pictures`` pictures are drawn for the pair from the same ``pictures`` starting noises
    (seeded with ``seed``) whatever the pair, so a pair's reward is a deterministic function
    of its texts (and is cached). Its parts, each on a 0-1 scale where real digits are
    near 1:

    * **aesthetics** -- the mean per-picture clarity / 100 (real test digits: 100);
    * **alignment** -- the course classifier's mean probability of the prompted digit,
      averaged with the share whose measured style matches the prompt's style words;
    * **fidelity** -- ``exp(-FID / fid_scale)``, the FID of the pair's pictures against
      the real test pictures of the prompted digit (``fid_scale``: the median of a data
      set's pairs, :meth:`calibrate`; before that 1).

    ``reward = sum(weight * part) / sum(weights)``.
    """

    def __init__(
        self,
        pipe,
        thresholds,
        pictures: int = 8,
        seed: int = 0,
        guidance_scale: float = 4.0,
        num_inference_steps: int = 20,
        weights: RewardWeights = RewardWeights(),
        batch: int = 512,
    ):
        from ..data import load_dataset
        from ..features import load_feature_net
        from ..metrics import clarity_reference

        check_int("pictures", pictures, minimum=2)
        self.pipe, self.thresholds, self.pictures = pipe, thresholds, pictures
        self.call = {"guidance_scale": guidance_scale, "num_inference_steps": num_inference_steps}
        self.weights, self.batch, self.seed = weights, batch, seed
        self.noise = self.starting_noise(seed)
        self.net = load_feature_net()
        test = load_dataset("mnist5k", "test", seed=0)
        self.real = test.images
        self.real_by_digit = {d: test.images[test.labels == d] for d in range(10)}
        self.clarity_reference = clarity_reference(test.images[:500])
        self.fid_scale = 1.0
        self.cache: dict[tuple[str, str], dict] = {}
        self.rendered = 0  # pairs rendered (the cache's misses)

    def starting_noise(self, seed: int) -> torch.Tensor:
        unet = self.pipe.unet.config
        g = torch.Generator().manual_seed(seed)
        return torch.randn(
            self.pictures, unet.in_channels, unet.sample_size, unet.sample_size, generator=g
        )

    @torch.no_grad()
    def render(self, prompts: Sequence[str], negatives=None, embeds=None, noise=None):
        """Pictures ``(len(prompts) * pictures, 1, 28, 28)``: each prompt on the fixed
        starting noises, with its negative prompt from ``negatives`` or the negative
        embedding ``embeds`` ``(1, T, D)`` for all.

        Every prompt is drawn in a call of its own, so each pipeline call has the same
        shape whatever the neighbours: a pair's pictures are then the same alone or in a
        list on every CPU (AVX-512 kernels round a batch of 16 and of 48 differently)."""
        from .evaluate import crop28

        noise = self.noise if noise is None else noise
        parts = []
        was = getattr(self.pipe, "_progress_bar_config", {})
        self.pipe.set_progress_bar_config(disable=True)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "words the model does not know")
                for i, prompt in enumerate(prompts):
                    kwargs = {}
                    if embeds is not None:
                        kwargs["negative_prompt_embeds"] = embeds.expand(self.pictures, -1, -1)
                    else:
                        kwargs["negative_prompt"] = [negatives[i]] * self.pictures
                    out = self.pipe(
                        [prompt] * self.pictures,
                        latents=noise.clone(),
                        output_type="pt",
                        **self.call,
                        **kwargs,
                    ).images
                    parts.append(crop28(out.float().cpu()))
        finally:
            self.pipe._progress_bar_config = was
        return torch.cat(parts)

    @torch.no_grad()
    def parts(self, images: torch.Tensor, prompt: CoursePrompt) -> dict:
        """The raw measurements of one pair's ``pictures`` pictures: clarity, the classifier's
        probability of the digit, the style match and the FID to that digit's real pictures."""
        from ..metrics import clarity_score, fid
        from .evaluate import style_match

        row = {
            "clarity": clarity_score(images, self.clarity_reference, per_image=True).mean().item()
        }
        if prompt.digit is not None:
            device = next(self.net.parameters()).device
            probs = self.net(images.to(device)).softmax(1).cpu()
            row["p(digit)"] = probs[:, prompt.digit].mean().item()
            row["FID"] = fid(self.real_by_digit[prompt.digit], images, self.net)
        else:
            row["p(digit)"] = float("nan")
            row["FID"] = fid(self.real, images, self.net)
        row["style"] = style_match(images, prompt.words, self.thresholds) if prompt.words else None
        return row

    def normalised(self, raw: dict) -> dict:
        """The three parts on their 0-1 scales, and the weighted reward."""
        align = raw["p(digit)"]
        if raw.get("style") is not None:
            align = (align + raw["style"]) / 2 if not math.isnan(align) else raw["style"]
        parts = {
            "aesthetics": raw["clarity"] / 100,
            "alignment": 0.0 if math.isnan(align) else align,
            "fidelity": math.exp(-raw["FID"] / self.fid_scale),
        }
        w = self.weights
        total = w.aesthetics + w.alignment + w.fidelity
        parts["reward"] = (
            w.aesthetics * parts["aesthetics"]
            + w.alignment * parts["alignment"]
            + w.fidelity * parts["fidelity"]
        ) / total
        return parts

    def score(self, prompts: Sequence[CoursePrompt], negatives: Sequence[str]) -> list[dict]:
        """Raw measurements and parts of every pair (rendered only if not cached)."""
        todo = [
            i
            for i, (p, n) in enumerate(zip(prompts, negatives, strict=True))
            if (p.text, n) not in self.cache
        ]
        if todo:
            images = self.render([prompts[i].text for i in todo], [negatives[i] for i in todo])
            self.rendered += len(todo)
            for k, i in enumerate(todo):
                chunk = images[k * self.pictures : (k + 1) * self.pictures]
                self.cache[(prompts[i].text, negatives[i])] = self.parts(chunk, prompts[i])
        rows = []
        for p, n in zip(prompts, negatives, strict=True):
            raw = self.cache[(p.text, n)]
            rows.append({**raw, **self.normalised(raw)})
        return rows

    def with_weights(self, weights: RewardWeights) -> Reward:
        """The same reward (same pictures, same cache) with other weights."""
        import copy

        other = copy.copy(self)  # shares the pipeline, the noise and the cache
        other.weights = weights
        return other

    def calibrate(self, fids: Sequence[float]) -> None:
        """Set ``fid_scale`` to the median of ``fids`` (a data set's pairs)."""
        self.fid_scale = float(torch.tensor(list(fids)).median())
