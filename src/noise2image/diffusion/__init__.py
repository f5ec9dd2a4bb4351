"""A miniature latent text-to-image model with Stable Diffusion's parts (chapters 8 and 9).

Kept apart as diffusers keeps them:

* ``captions`` -- captions measured on the digits (style words) and on degraded copies
  (quality words), the reason a negative prompt can work at all;
* ``model`` -- the ``vae`` (chapter 7's autoencoder), the ``tokenizer`` and ``text_encoder``
  (a word-level tokenizer and a small ``CLIPTextModel``) and the ``unet`` (:class:`LatentDenoiser`);
* ``pipeline`` -- :class:`MiniDiffusionPipeline`, a ``diffusers.DiffusionPipeline`` with Stable
  Diffusion's call, and :func:`classifier_free_guidance`; ``folders`` -- a saved pipeline's
  folder checked before it loads, and the hub libraries kept quiet while it does;
* ``traces`` -- what a chapter shows of one call: the stages with their shapes, and the way
  from noise to picture with the model's guess at each step;
* ``train`` -- flow-matching training, ``train_or_load``, the shipped model
  (``python -m noise2image.shipped retrain diffusion-digits``);
* ``evaluate`` -- classified as asked, style match, degraded share, negative-prompt comparisons;
* ``negative_claims`` -- chapter 8's claims on fresh seeds, decided by :mod:`noise2image.claims`;
* ``adapter`` -- chapter 9's "wrong" LoRA (peft): the bad set, the new word, DreamBooth
  training, the adapter saved alone and switched on and off; ``woolf`` -- Woolf's
  comparison with it: the runs, the controls, the random-embedding null and the claims;
* chapter 9's learned negatives, one module per job: ``prompts`` (the course prompts and
  their split), ``reward`` (NegOpt's weighted reward), ``community`` (the community data
  set with simulated likes), ``policy`` (the prompt model, SFT and RL with trl), ``reneg``
  (ReNeg's negative embedding learned through guided sampling) and ``comparison`` (every
  method on held-out prompts, the claims); ``optimiser`` gathers them in one namespace for
  the chapter. The optimisers reach the pipeline only through ``negative_prompt`` /
  ``negative_prompt_embeds``.
* chapter 10's colour model, the same pipeline on 64 × 64 × 3 emoji: ``emoji_captions``
  (OpenMoji with skin tones, captions measured and known, the held-out pairs and the
  paraphrases), ``colour_vae`` (the autoencoder), ``pretrained_text`` (the frozen MiniLM
  text encoder from its wheel), ``colour_train`` (the training run, with either text
  encoder), ``colour_shipped`` (the shipped model:
  ``python -m noise2image.shipped retrain diffusion-emoji``), ``emoji_classifier`` (the
  course's subgroup classifier), ``emoji_measures`` and ``colour_eval`` (memory,
  paraphrases, composition, negative prompts).

>>> pipe = load_shipped().pipeline
>>> pipe("a bold seven", negative_prompt="blurry", guidance_scale=4.0).images.shape
torch.Size([1, 1, 32, 32])
"""

from .model import LatentDenoiser, MiniVAE
from .pipeline import MiniDiffusionPipeline, classifier_free_guidance
from .train import DiffusionConfig, load_shipped, retrain_shipped, train_or_load

__all__ = [
    "LatentDenoiser",
    "MiniVAE",
    "MiniDiffusionPipeline",
    "classifier_free_guidance",
    "DiffusionConfig",
    "load_shipped",
    "retrain_shipped",
    "train_or_load",
]
