"""NegOpt's prompt model: a tiny ``transformers`` GPT-2 built from a config
(:func:`make_policy`) over the chapter-8 tokenizer's words, fine-tuned on the community
data set with trl's ``SFTTrainer`` (:func:`train_sft`) and improved against the reward with
``GRPOTrainer`` and a Python reward function (:func:`train_rl`,
:func:`negative_reward_fn`; :func:`positive_reward_fn` runs the same loop on ordinary
prompts). trl patches a model's ``forward``: :func:`clone_policy` copies through the
config and the weights, never ``deepcopy``.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Callable, Sequence

import torch

from .captions import DIGIT_WORDS, STYLE_WORDS, VOCABULARY, with_article
from .prompts import IRRELEVANT, CoursePrompt
from .reward import Reward

__all__ = [
    "ARROW",
    "POLICY_WORDS",
    "policy_tokenizer",
    "make_policy",
    "clone_policy",
    "train_sft",
    "write_negatives",
    "top_word",
    "negative_reward_fn",
    "with_style",
    "positive_reward_fn",
    "train_rl",
]

ARROW = "->"  # ends the prompt model's input: "a bold seven ->"
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
    from .folders import quiet_hub

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
        from .folders import quiet_hub

        with quiet_hub():
            trainer.train()
        seconds = time.perf_counter() - started
    rows = [h for h in trainer.state.log_history if "reward" in h]
    return [
        {"step": h["step"], "reward": h["reward"], "seconds": seconds / len(rows)} for h in rows
    ]
