"""Learning what to put in the negative prompt (chapter 9): NegOpt and ReNeg at the course's scale.

* NegOpt (Ogezi & Shi, 2024): a small sequence model maps a prompt to a negative prompt; it is
  fine-tuned (SFT) on a data set of community (prompt, negative prompt) pairs, then improved by
  reinforcement learning against a weighted reward. Here the data set is written as a
  community writes negatives (:func:`community_negatives`), every pair scored by
  :class:`Reward` on fixed seeds, with "likes" a noisy function of that score; the prompt
  model is a tiny ``transformers`` GPT-2 built from a config (:func:`make_policy`) over the
  chapter-8 tokenizer's words, trained with trl's ``SFTTrainer`` (:func:`train_sft`) and
  ``GRPOTrainer`` with a Python reward function (:func:`train_rl`).
* ReNeg (Li et al., 2024): the negative *embedding* itself learned by gradient, through
  classifier-free guidance and the last sampling steps, against a differentiable reward
  (:func:`learn_negative_embedding`).

The optimisers reach the pipeline only through ``negative_prompt`` /
``negative_prompt_embeds`` (and ReNeg's differentiable sampler through the pipeline's own
``unet``, ``scheduler`` and ``vae``, which it does not change).
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..profiles import check_float, check_int
from .captions import DEFECTS, DIGIT_WORDS, STYLE_WORDS, VOCABULARY, with_article

__all__ = [
    "STYLES",
    "split_prompts",
    "IRRELEVANT",
    "CoursePrompt",
    "course_prompts",
    "community_negatives",
    "RewardWeights",
    "Reward",
    "build_dataset",
    "term_kinds",
    "simulated_likes",
    "top_liked",
    "ground_truth",
    "policy_tokenizer",
    "make_policy",
    "clone_policy",
    "train_sft",
    "write_negatives",
    "top_word",
    "train_rl",
    "negative_reward_fn",
    "positive_reward_fn",
    "learn_negative_embedding",
    "nearest_words",
    "Comparison",
    "compare_methods",
    "summary",
    "claims",
]

STYLES = ("", "bold", "thin", "slanted", "upright", "bold slanted", "thin upright")
# words a web community puts in negative prompts that the course model never read
IRRELEVANT = ("low quality", "worst quality", "ugly", "watermark", "jpeg artifacts", "text")
ARROW = "->"  # ends the prompt model's input: "a bold seven ->"


@dataclass(frozen=True)
class CoursePrompt:
    """A prompt of the course: its text, the digit it asks for (``None`` for "a digit") and
    its style words."""

    text: str
    digit: int | None
    words: tuple[str, ...]


def course_prompts(
    styles: Sequence[str] = STYLES, digits: Sequence[int] = range(10)
) -> list[CoursePrompt]:
    """Every digit of ``digits`` with every style of ``styles`` (``""``: no style word):
    ``"a seven"``, ``"a bold seven"``, ``"a bold slanted seven"``, ..."""
    out = []
    for style in styles:
        words = tuple(style.split())
        for d in digits:
            name = DIGIT_WORDS[d]
            out.append(CoursePrompt(with_article(" ".join(["a", *words, name])), d, words))
    return out


def community_negatives(prompt: CoursePrompt, n: int, rng: torch.Generator) -> list[str]:
    """``n`` different negative prompts for ``prompt`` as a community writes them: one to four
    terms, each a quality word (helpful), a web term the model never read (irrelevant), a
    style word (the opposite style helps, the prompt's own hurts), another digit (a concept),
    or the prompt's own digit (harmful)."""
    opposite = {"bold": "thin", "thin": "bold", "slanted": "upright", "upright": "slanted"}
    pools = [
        (0.35, list(DEFECTS)),
        (0.25, list(IRRELEVANT)),
        (0.2, list(STYLE_WORDS)),
        (0.1, [w for d, w in enumerate(DIGIT_WORDS) if d != prompt.digit]),
        (0.1, [DIGIT_WORDS[prompt.digit]] if prompt.digit is not None else ["digit"]),
    ]
    weights = torch.tensor([w for w, _ in pools])
    out, tries = [], 0
    while len(out) < n and tries < 50 * n:
        tries += 1
        k = int(torch.randint(1, 5, (1,), generator=rng))
        terms = []
        for _ in range(k):
            pool = pools[int(torch.multinomial(weights, 1, generator=rng))][1]
            term = pool[int(torch.randint(len(pool), (1,), generator=rng))]
            if term not in terms:
                terms.append(term)
        if prompt.words and float(torch.rand(1, generator=rng)) < 0.15:
            terms.append(opposite[prompt.words[0]])  # someone who knows what helps
        text = ", ".join(dict.fromkeys(terms))
        if text not in out:
            out.append(text)
    return out


# ----------------------------------------------------------------------------- the reward


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


# ----------------------------------------------------------------------------- the data set


def split_prompts(
    styles: Sequence[str] = STYLES,
    digits: Sequence[int] = range(10),
    test_digits: int = 3,
    seed: int = 0,
) -> tuple[list[CoursePrompt], list[CoursePrompt]]:
    """Split the course prompts by prompt: for every style, ``test_digits`` digits drawn at
    random are held out (every style and every digit stays in the training prompts of some
    other combination). Returns ``(train, test)``."""
    rng = torch.Generator().manual_seed(seed)
    train, test = [], []
    for style in styles:
        prompts = course_prompts((style,), digits)
        held = set(torch.randperm(len(prompts), generator=rng)[:test_digits].tolist())
        for i, prompt in enumerate(prompts):
            (test if i in held else train).append(prompt)
    return train, test


def build_dataset(
    reward: Reward,
    train_prompts: Sequence[CoursePrompt],
    test_prompts: Sequence[CoursePrompt],
    per_prompt: int = 12,
    seed: int = 0,
    progress: bool = True,
):
    """The negative-prompt data set: ``per_prompt`` community negatives for every prompt of
    ``train_prompts`` (split ``"train"``) and ``test_prompts`` (``"test"``), each scored by
    ``reward`` (its FID scale calibrated on the training pairs), with users' likes: a
    Poisson count whose rate grows with the reward, times a log-normal taste of the users.
    Returns a ``pandas.DataFrame``, one row per pair."""
    import pandas as pd

    from ..progress import progress_bar

    rng = torch.Generator().manual_seed(seed)
    rows = []
    for split, prompts in (("train", train_prompts), ("test", test_prompts)):
        for prompt in prompts:
            for negative in community_negatives(prompt, per_prompt, rng):
                rows.append({"split": split, "prompt": prompt, "negative": negative})
    bar = progress_bar(total=len(rows), desc="scoring pairs", disable=not progress)
    chunk = max(1, reward.batch // reward.pictures)
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        reward.score([r["prompt"] for r in part], [r["negative"] for r in part])
        bar.update(len(part))
    bar.close()
    reward.calibrate(
        [
            reward.cache[(r["prompt"].text, r["negative"])]["FID"]
            for r in rows
            if r["split"] == "train"
        ]
    )
    scored = reward.score([r["prompt"] for r in rows], [r["negative"] for r in rows])
    table = pd.DataFrame(
        [
            {
                "split": r["split"],
                "prompt": r["prompt"].text,
                "digit": r["prompt"].digit,
                "style words": " ".join(r["prompt"].words),
                "negative": r["negative"],
                **s,
            }
            for r, s in zip(rows, scored, strict=True)
        ]
    )
    table["likes"] = simulated_likes(table["reward"].to_numpy(), rng)
    return table


def simulated_likes(rewards, rng: torch.Generator):
    """Users' likes of pairs with these ``rewards``: a Poisson count whose rate grows with
    the standardised reward ``z``, ``20 exp(1.5 z + taste)``, the users' taste ~ N(0, 0.5²).

    Drawn by inverting the Poisson CDF at one uniform number per pair, so a pair's likes
    move only if its own rate moves across a step of the CDF: a last-bit difference of one
    reward (another CPU) cannot reshuffle every later pair's likes, as a rejection sampler
    that consumes a varying count of random numbers (``torch.poisson``) would."""
    import numpy as np
    from scipy.stats import poisson

    rewards = np.asarray(rewards, dtype=np.float64)
    z = (rewards - rewards.mean()) / rewards.std(ddof=1)
    taste = torch.randn(len(rewards), generator=rng, dtype=torch.float64).numpy() * 0.5
    uniform = torch.rand(len(rewards), generator=rng, dtype=torch.float64).numpy()
    rate = 20 * np.exp(1.5 * z + taste)
    return poisson.ppf(uniform, rate).astype(np.int64)


def term_kinds(negative: str, prompt: CoursePrompt) -> list[str]:
    """What each term of a community ``negative`` is for ``prompt``: ``"quality word"``,
    ``"web term"`` (unknown to the model), ``"opposite style"``, ``"own style"``, ``"other
    style"``, ``"other digit"`` or ``"own digit"``."""
    opposite = {"bold": "thin", "thin": "bold", "slanted": "upright", "upright": "slanted"}
    kinds = []
    for term in (t.strip() for t in negative.split(",") if t.strip()):
        if term in DEFECTS:
            kinds.append("quality word")
        elif term in IRRELEVANT:
            kinds.append("web term")
        elif term in prompt.words:
            kinds.append("own style")
        elif term in STYLE_WORDS:
            opposed = any(opposite[w] == term for w in prompt.words)
            kinds.append("opposite style" if opposed else "other style")
        elif term in DIGIT_WORDS:
            own = prompt.digit is not None and term == DIGIT_WORDS[prompt.digit]
            kinds.append("own digit" if own else "other digit")
        else:
            kinds.append("other")
    return kinds


def top_liked(table, k: int = 3, split: str = "train") -> list[tuple[str, str]]:
    """The ``k`` most-liked (prompt, negative) pairs of every prompt of ``split``: what SFT
    learns from (the community's favourites)."""
    part = table[table["split"] == split]
    rank = part.groupby("prompt")["likes"].rank(ascending=False, method="first")
    best = part[rank <= k]
    return list(zip(best["prompt"], best["negative"], strict=True))


def ground_truth(table) -> dict[str, str]:
    """Every prompt's most-liked negative: the data set's best human-written one."""
    best = table.loc[table.groupby("prompt")["likes"].idxmax()]
    return dict(zip(best["prompt"], best["negative"], strict=True))


# ----------------------------------------------------------------------------- the prompt model


POLICY_WORDS = (*VOCABULARY, *dict.fromkeys(w for t in IRRELEVANT for w in t.split()), ARROW)


def policy_tokenizer():
    """The chapter-8 tokenizer's construction over the course words, the web's negative-prompt
    words and ``"->"``, without a closing ``[EOS]`` (the model writes its own)."""
    from .model import make_tokenizer

    return make_tokenizer(POLICY_WORDS, max_length=32, eos=False)


def make_policy(tokenizer, seed: int = 0, layers: int = 2, width: int = 64):
    """A tiny GPT-2 from a config: ``"[BOS] a bold seven ->"`` -> a negative prompt."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=32,
        n_embd=width,
        n_layer=layers,
        n_head=2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return GPT2LMHeadModel(config)


def clone_policy(policy):
    """A fresh copy of ``policy``'s weights (not ``copy.deepcopy``: trl's trainers patch the
    model object's ``forward``, and a deep copy would still run the original's weights)."""
    from transformers import GPT2LMHeadModel

    fresh = GPT2LMHeadModel(policy.config)
    fresh.load_state_dict(policy.state_dict())
    return fresh


def _trl_args(config_class, out: str, seed: int) -> dict:
    """trl's settings for a tiny model on a CPU: no bf16 and no gradient checkpointing (trl
    turns both on by default), no saving, no reporting, a constant learning rate."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(config_class)}
    # transformers 5 renamed gradient_checkpointing to activation_checkpointing
    checkpointing = (
        "activation_checkpointing"
        if "activation_checkpointing" in fields
        else "gradient_checkpointing"
    )
    return {
        "output_dir": out,
        "use_cpu": True,
        "report_to": "none",
        "save_strategy": "no",
        "disable_tqdm": True,
        "bf16": False,
        checkpointing: False,
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": False,
        "seed": seed,
        "lr_scheduler_type": "constant",
        "warmup_steps": 0,
    }


def _quiet(trainer):
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for callback in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(callback)
    return trainer


def _prompt_text(prompt: str) -> str:
    return f"{prompt} {ARROW}"


def train_sft(
    policy,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    steps: int = 300,
    batch: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[dict]:
    """Supervised fine-tuning of ``policy`` on (prompt, negative prompt) ``pairs`` with trl's
    ``SFTTrainer`` (loss on the negative only); returns the loss trace."""
    import datasets
    from trl import SFTConfig, SFTTrainer

    datasets.disable_progress_bars()
    data = datasets.Dataset.from_dict(
        {
            "prompt": [_prompt_text(p) for p, _ in pairs],
            "completion": [f" {n}" for _, n in pairs],  # trl joins prompt + completion as text
        }
    )
    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args = SFTConfig(
            **_trl_args(SFTConfig, out, seed),
            max_steps=steps,
            per_device_train_batch_size=batch,
            learning_rate=lr,
            logging_steps=max(1, steps // 10),
            max_length=32,
        )
        trainer = _quiet(
            SFTTrainer(model=policy, args=args, train_dataset=data, processing_class=tokenizer)
        )
        trainer.train()
    return [
        {"step": h["step"], "loss": h["loss"]} for h in trainer.state.log_history if "loss" in h
    ]


def _clean(text: str) -> str:
    words = [w for w in text.replace(ARROW, " ").split() if w not in ("[UNK]",)]
    return " ".join(words).replace(" ,", ",").strip(", ")


@torch.no_grad()
def write_negatives(policy, tokenizer, prompts: Sequence[str], max_new: int = 10) -> list[str]:
    """The policy's greedy negative prompt for each prompt."""
    policy.eval()
    enc = tokenizer(
        [_prompt_text(p) for p in prompts], return_tensors="pt", padding=True, padding_side="left"
    )
    from .train import quiet_hub

    with quiet_hub():  # transformers' padding advice: the mask is passed
        out = policy.generate(
            **enc,
            do_sample=False,
            max_new_tokens=max_new,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    texts = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return [_clean(t) for t in texts]


def top_word(texts: Sequence[str]) -> str:
    """The most frequent word of ``texts`` (commas aside), or ``"(nothing)"``."""
    from collections import Counter

    counts = Counter(w for t in texts for w in t.replace(",", " ").split())
    return counts.most_common(1)[0][0] if counts else "(nothing)"


def negative_reward_fn(reward: Reward, prompts: Sequence[CoursePrompt]) -> Callable:
    """trl's reward function for NegOpt: the completion is the negative prompt."""
    by_text = {_prompt_text(p.text): p for p in prompts}

    def negative_prompt_reward(prompts, completions, **kwargs) -> list[float]:
        chosen = [by_text[p.strip()] for p in prompts]
        rows = reward.score(chosen, [_clean(c) for c in completions])
        return [r["reward"] for r in rows]

    return negative_prompt_reward


def with_style(prompt: CoursePrompt, completion: str) -> CoursePrompt:
    """``prompt`` with the style words of ``completion`` put before the digit (other words
    dropped): the positive-prompt form of the optimiser. The reward still judges the original
    prompt's digit and style words."""
    added = [w for w in _clean(completion).replace(",", " ").split() if w in STYLE_WORDS]
    words = list(dict.fromkeys([*prompt.words, *added]))
    text = with_article(" ".join(["a", *words, DIGIT_WORDS[prompt.digit]]))
    return CoursePrompt(text, prompt.digit, prompt.words)


def positive_reward_fn(reward: Reward, prompts: Sequence[CoursePrompt]) -> Callable:
    """trl's reward function for the same loop on the *positive* prompt: the completion's
    style words are added to the prompt, the negative prompt stays empty."""
    by_text = {_prompt_text(p.text): p for p in prompts}

    def positive_prompt_reward(prompts, completions, **kwargs) -> list[float]:
        chosen = [
            with_style(by_text[p.strip()], c) for p, c in zip(prompts, completions, strict=True)
        ]
        return [r["reward"] for r in reward.score(chosen, [""] * len(chosen))]

    return positive_prompt_reward


def train_rl(
    policy,
    tokenizer,
    reward_fn: Callable,
    prompts: Sequence[str],
    steps: int = 40,
    num_generations: int = 4,
    prompts_per_step: int = 4,
    lr: float = 1e-3,
    temperature: float = 1.0,
    seed: int = 0,
) -> list[dict]:
    """Reinforcement learning of ``policy`` with trl's ``GRPOTrainer``: for each prompt,
    ``num_generations`` sampled negative prompts, scored by ``reward_fn`` (trl's
    ``(prompts, completions) -> rewards``), advantages relative to the group's mean. Returns
    the trace: the mean reward of each step's samples."""
    import datasets
    from trl import GRPOConfig, GRPOTrainer

    datasets.disable_progress_bars()
    data = datasets.Dataset.from_dict({"prompt": [_prompt_text(p) for p in prompts]})
    prompts_per_step = min(prompts_per_step, len(prompts))  # a batch needs that many prompts
    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args = GRPOConfig(
            **_trl_args(GRPOConfig, out, seed),
            max_steps=steps,
            per_device_train_batch_size=num_generations * prompts_per_step,
            num_generations=num_generations,
            max_completion_length=8,
            learning_rate=lr,
            logging_steps=1,
            beta=0.0,
            temperature=temperature,
        )
        trainer = _quiet(
            GRPOTrainer(
                model=policy,
                reward_funcs=[reward_fn],
                args=args,
                train_dataset=data,
                processing_class=tokenizer,
            )
        )
        started = time.perf_counter()
        from .train import quiet_hub

        with quiet_hub():
            trainer.train()
        seconds = time.perf_counter() - started
    rows = [h for h in trainer.state.log_history if "reward" in h]
    return [
        {"step": h["step"], "reward": h["reward"], "seconds": seconds / len(rows)} for h in rows
    ]


# ----------------------------------------------------------------------------- ReNeg


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


# ----------------------------------------------------------------------------- the comparison


@dataclass
class Comparison:
    """:func:`compare_methods`' results: ``table`` (one row per method and seed), ``pairs``
    (one row per method, seed and prompt) and the first seed's ``pictures`` by method."""

    table: object
    pairs: object
    pictures: dict


def compare_methods(
    reward: Reward,
    prompts: Sequence[CoursePrompt],
    methods: dict,
    seeds: Sequence[int] = (1, 2, 3),
    progress: bool = True,
) -> Comparison:
    """Every method on ``prompts``, on fresh seeds (not the reward's): ``methods`` maps a name
    to one negative prompt per prompt (a list of strings) or to a negative embedding
    ``(1, T, D)``. Per (method, seed): IS, clarity, FID (all its pictures against the real
    test digits) and the mean reward and parts of its pairs."""
    import pandas as pd

    from ..metrics import clarity_score, fid, inception_score
    from ..progress import progress_bar

    rows, pair_rows, pictures = [], [], {}
    bar = progress_bar(
        total=len(methods) * len(seeds), desc="methods x seeds", disable=not progress
    )
    n = reward.pictures
    for seed in seeds:
        noise = reward.starting_noise(10_000 + seed)
        for name, negatives in methods.items():
            texts = [p.text for p in prompts]
            if isinstance(negatives, torch.Tensor):
                images = reward.render(texts, embeds=negatives, noise=noise)
            else:
                images = reward.render(texts, list(negatives), noise=noise)
            if seed == seeds[0]:
                pictures[name] = images
            pairs = []
            for i, p in enumerate(prompts):
                raw = reward.parts(images[i * n : (i + 1) * n], p)
                pairs.append({**raw, **reward.normalised(raw)})
                pair_rows.append(
                    {
                        "method": name,
                        "seed": seed,
                        "prompt": p.text,
                        "style words": " ".join(p.words),
                        **pairs[-1],
                    }
                )
            rows.append(
                {
                    "method": name,
                    "seed": seed,
                    "IS": inception_score(images, reward.net),
                    "clarity": clarity_score(images, reward.clarity_reference),
                    "FID": fid(reward.real, images, reward.net),
                    **{
                        part: sum(p[part] for p in pairs) / len(pairs)
                        for part in (*PARTS, "reward")
                    },
                }
            )
            bar.update(1)
    bar.close()
    return Comparison(pd.DataFrame(rows), pd.DataFrame(pair_rows), pictures)


def summary(table, by: str = "method", baseline: str | None = None):
    """Mean and spread (max - min) over seeds of every column of ``table``, by ``by``; with
    ``baseline``, also each mean's % change against that row (the paper's form)."""
    numbers = table.drop(columns=[c for c in ("seed",) if c in table]).groupby(by, sort=False)
    mean, spread = numbers.mean(), numbers.max() - numbers.min()
    out = {"mean": mean, "spread": spread}
    if baseline is not None:
        out["change"] = 100 * (mean - mean.loc[baseline]) / mean.loc[baseline].abs()
    return out


def claims(result_summary: dict, style_gain=None):
    """NegOpt's and ReNeg's claims, each decided by a number of :func:`summary` (with
    ``baseline="none"``) of :func:`compare_methods` on the held-out prompts; a difference
    counts when it is larger than the larger spread of the two methods compared.
    ``style_gain``: ReNeg's reward gain over no negative by the prompts' style words."""
    import pandas as pd

    mean, spread, change = (
        result_summary["mean"],
        result_summary["spread"],
        result_summary["change"],
    )

    def diff(a, b, column="reward"):
        return mean.loc[a, column] - mean.loc[b, column]

    def beats(a, b, column="reward"):
        return diff(a, b, column) > max(spread.loc[a, column], spread.loc[b, column])

    rl, aes, reneg = "SFT + RL", "SFT + RL (aesthetics only)", "ReNeg embedding"
    rows = [
        ("IS +24.8 % over no negative prompt (SFT + RL)",
         f"{change.loc[rl, 'IS']:+.1f} %", change.loc[rl, "IS"] >= 24.8),
        ("aesthetics (clarity) +18.6 % over no negative prompt (SFT + RL)",
         f"{change.loc[rl, 'clarity']:+.1f} %", change.loc[rl, "clarity"] >= 18.6),
        ("SFT + RL beats the ground-truth negatives (reward)",
         f"{diff(rl, 'ground truth'):+.3f}", beats(rl, "ground truth")),
        ("SFT + RL beats no negative prompt (reward)",
         f"{diff(rl, 'none'):+.3f}", beats(rl, "none")),
        ("SFT + RL beats SFT alone (reward)", f"{diff(rl, 'SFT'):+.3f}", beats(rl, "SFT")),
        ("RL on aesthetics alone raises clarity over SFT",
         f"{diff(aes, 'SFT', 'clarity'):+.1f}", beats(aes, "SFT", "clarity")),
        ("... without lowering alignment below SFT's",
         f"{diff(aes, 'SFT', 'alignment'):+.3f}", not beats("SFT", aes, "alignment")),
        ("ReNeg beats no negative prompt (reward)",
         f"{diff(reneg, 'none'):+.3f}", beats(reneg, "none")),
        ("ReNeg beats the ground-truth negatives (reward)",
         f"{diff(reneg, 'ground truth'):+.3f}", beats(reneg, "ground truth")),
    ]  # fmt: skip
    if style_gain is not None and "upright" in style_gain:
        gain = style_gain["upright"]
        rows.append(("ReNeg transfers to the unseen word 'upright' (reward gain above 0)",
                     f"{gain:+.3f}", gain > 0))  # fmt: skip
    table = pd.DataFrame(rows, columns=["claim", "measured", "verdict"]).set_index("claim")
    table["verdict"] = table["verdict"].map({True: "held", False: "not held"})
    return table
