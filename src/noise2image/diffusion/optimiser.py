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

from .community import (
    build_dataset,
    community_negatives,
    ground_truth,
    simulated_likes,
    term_kinds,
    top_liked,
)
from .comparison import Comparison, claims, compare_methods, summary
from .policy import (
    ARROW,
    POLICY_WORDS,
    clone_policy,
    make_policy,
    negative_reward_fn,
    policy_tokenizer,
    positive_reward_fn,
    top_word,
    train_rl,
    train_sft,
    with_style,
    write_negatives,
)
from .prompts import IRRELEVANT, STYLES, CoursePrompt, course_prompts, split_prompts
from .reneg import learn_negative_embedding, nearest_words
from .reward import PARTS, Reward, RewardWeights

__all__ = [
    "STYLES",
    "split_prompts",
    "IRRELEVANT",
    "CoursePrompt",
    "course_prompts",
    "community_negatives",
    "RewardWeights",
    "PARTS",
    "Reward",
    "build_dataset",
    "term_kinds",
    "simulated_likes",
    "top_liked",
    "ground_truth",
    "ARROW",
    "POLICY_WORDS",
    "policy_tokenizer",
    "make_policy",
    "clone_policy",
    "train_sft",
    "write_negatives",
    "top_word",
    "train_rl",
    "negative_reward_fn",
    "positive_reward_fn",
    "with_style",
    "learn_negative_embedding",
    "nearest_words",
    "Comparison",
    "compare_methods",
    "summary",
    "claims",
]
