"""Learning what to put in the negative prompt (chapter 9): NegOpt and ReNeg at the course's
scale, gathered in one namespace for the chapter (``from noise2image.diffusion import
optimiser``). Each part lives in the module of its job, where :func:`show_source
<noise2image.plotting.show_source>` finds it:

* :mod:`~noise2image.diffusion.prompts` -- the course prompts and their train / test split;
* :mod:`~noise2image.diffusion.reward` -- NegOpt's weighted reward (:class:`Reward`);
* :mod:`~noise2image.diffusion.community` -- the community data set of (prompt, negative)
  pairs with simulated likes;
* :mod:`~noise2image.diffusion.policy` -- NegOpt's prompt model, SFT and RL with trl
  (Ogezi & Shi, 2024);
* :mod:`~noise2image.diffusion.reneg` -- ReNeg's negative embedding learned by gradient
  (Li et al., 2024);
* :mod:`~noise2image.diffusion.comparison` -- every method on the held-out prompts, the
  summary and the claims.

The optimisers reach the pipeline only through ``negative_prompt`` /
``negative_prompt_embeds`` (and ReNeg's differentiable sampler through the pipeline's own
``unet``, ``scheduler`` and ``vae``, which it does not change).
"""

from __future__ import annotations

from . import community, comparison, policy, prompts, reneg, reward
from .community import *  # noqa: F403
from .comparison import *  # noqa: F403
from .policy import *  # noqa: F403
from .prompts import *  # noqa: F403
from .reneg import *  # noqa: F403
from .reward import *  # noqa: F403

__all__ = [
    name
    for module in (prompts, reward, community, policy, reneg, comparison)
    for name in module.__all__
]
