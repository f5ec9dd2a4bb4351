"""noise2image.diffusion.optimiser: the reward, the data set, SFT and RL (trl), ReNeg."""

import json

import pytest
import torch

from noise2image import data
from noise2image.diffusion import captions, optimiser
from noise2image.preprocess import blur


@pytest.fixture(scope="module")
def thresholds():
    digits = data.load_dataset("mnist5k", "train", seed=0).images[:500]
    return captions.style_thresholds(digits)


@pytest.fixture(scope="module")
def reward(tiny_pipe, thresholds):
    return optimiser.Reward(tiny_pipe, thresholds, pictures=3, num_inference_steps=2)


def test_course_prompts_cover_every_digit_and_style():
    prompts = optimiser.course_prompts(("", "bold slanted"))
    assert len(prompts) == 20
    assert prompts[7] == optimiser.CoursePrompt("a seven", 7, ())
    assert prompts[18] == optimiser.CoursePrompt("a bold slanted eight", 8, ("bold", "slanted"))
    assert optimiser.course_prompts(("upright",), digits=(8,))[0].text == "an upright eight"
    assert len(optimiser.course_prompts()) == 70


def test_split_prompts_holds_out_some_digits_of_every_style():
    train_prompts, test_prompts = optimiser.split_prompts(test_digits=3, seed=0)
    assert len(train_prompts) == 49 and len(test_prompts) == 21
    assert not {p.text for p in train_prompts} & {p.text for p in test_prompts}
    for style in optimiser.STYLES:
        assert sum(p.words == tuple(style.split()) for p in test_prompts) == 3
    assert optimiser.split_prompts(seed=0) == (train_prompts, test_prompts)


def test_community_negatives_are_distinct_and_reproducible():
    prompt = optimiser.CoursePrompt("a bold seven", 7, ("bold",))
    first = optimiser.community_negatives(prompt, 12, torch.Generator().manual_seed(0))
    again = optimiser.community_negatives(prompt, 12, torch.Generator().manual_seed(0))
    assert first == again and len(set(first)) == 12
    kinds = {k for n in first for k in optimiser.term_kinds(n, prompt)}
    assert "other" not in kinds and len(kinds) >= 4


def test_term_kinds_say_what_each_term_does_for_the_prompt():
    prompt = optimiser.CoursePrompt("a bold seven", 7, ("bold",))
    kinds = optimiser.term_kinds("blurry, watermark, thin, bold, slanted, seven, one", prompt)
    assert kinds == [
        "quality word",
        "web term",
        "opposite style",
        "own style",
        "other style",
        "own digit",
        "other digit",
    ]


def test_reward_parts_move_the_right_way_on_real_blurred_and_wrong_digit_pictures(reward):
    test = data.load_dataset("mnist5k", "test", seed=0)
    sevens, ones = test.images[test.labels == 7][:24], test.images[test.labels == 1][:24]
    seven = optimiser.CoursePrompt("a seven", 7, ())
    real = reward.normalised(reward.parts(sevens, seven))
    blurred = reward.normalised(reward.parts(blur(sevens, 1.5), seven))
    wrong = reward.normalised(reward.parts(ones, seven))
    assert real["aesthetics"] > blurred["aesthetics"] + 0.2  # blur: less clarity
    assert real["fidelity"] > blurred["fidelity"] and real["fidelity"] > wrong["fidelity"]
    assert real["alignment"] > 0.9 > 0.1 > wrong["alignment"]  # a one is not a seven
    assert real["reward"] > max(blurred["reward"], wrong["reward"])
    bold = reward.normalised(
        reward.parts(sevens, optimiser.CoursePrompt("a bold seven", 7, ("bold",)))
    )
    assert bold["alignment"] < real["alignment"]  # few real sevens are bold


BATCH_INVARIANCE = """
import json, sys
sys.path.insert(0, "tests")
from conftest import make_tiny_pipe
from noise2image import data
from noise2image.diffusion import captions, optimiser
thresholds = captions.style_thresholds(data.load_dataset("mnist5k", "train", seed=0).images[:500])
pipe = make_tiny_pipe()
prompts = optimiser.course_prompts(("",), digits=(3, 7))
def reward():
    return optimiser.Reward(pipe, thresholds, pictures=3, num_inference_steps=2)
alone = reward().score(prompts[:1], ["blurry"])[0]
together = reward().score(prompts[::-1] + prompts[:1], ["", "noisy", "blurry"])[-1]
print(json.dumps([alone, together]))
"""


@pytest.mark.parametrize("kernel_set", ["native", "other"])
def test_reward_of_a_pair_is_the_same_alone_or_in_a_batch_on_every_kernel_set(kernel_set):
    # AVX-512 kernels round a batch of 16 pictures and one of 48 differently (AVX2 ones did
    # not): each pair is drawn in a call of its own shape, checked on this CPU's kernels
    # and on the emulated set farthest from them
    import subprocess
    import sys

    from tools import ROOT, kernels

    name = kernels.other_set() if kernel_set == "other" else "native"
    done = subprocess.run(
        [sys.executable, "-c", BATCH_INVARIANCE],
        env=kernels.environment(name), cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    alone, together = json.loads(done.stdout.splitlines()[-1])
    assert alone == together


def test_reward_is_a_fixed_function_of_the_texts_and_is_cached(tiny_pipe, thresholds):
    reward = optimiser.Reward(tiny_pipe, thresholds, pictures=2, num_inference_steps=2)
    prompts = optimiser.course_prompts(("",), digits=(3, 7))
    alone = reward.score(prompts[:1], ["blurry"])[0]
    other = optimiser.Reward(tiny_pipe, thresholds, pictures=2, num_inference_steps=2)
    together = other.score(prompts[::-1] + prompts[:1], ["", "noisy", "blurry"])[-1]
    assert alone == together  # the same pair, alone or in a batch
    assert reward.rendered == 1
    reward.score(prompts[:1], ["blurry"])
    assert reward.rendered == 1  # from the cache
    heavier = reward.with_weights(optimiser.RewardWeights(1.0, 0.0, 0.0))
    assert heavier.score(prompts[:1], ["blurry"])[0]["reward"] == alone["aesthetics"]
    assert heavier.rendered == 1 and reward.weights == optimiser.RewardWeights()


def test_reward_weights_refuse_negative_nan_infinite_or_all_zero():
    with pytest.raises(ValueError, match="aesthetics"):
        optimiser.RewardWeights(-1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="aesthetics=nan must be a finite number"):
        optimiser.RewardWeights(float("nan"), 1.0, 1.0)
    with pytest.raises(ValueError, match="fidelity=inf must be a finite number"):
        optimiser.RewardWeights(1.0, 1.0, float("inf"))
    with pytest.raises(ValueError, match="at least one"):
        optimiser.RewardWeights(0.0, 0.0, 0.0)


def test_dataset_scores_every_pair_with_likes_that_follow_the_reward(reward):
    train_prompts, test_prompts = optimiser.split_prompts(digits=(1, 7), test_digits=1)
    table = optimiser.build_dataset(
        reward, train_prompts, test_prompts, per_prompt=4, progress=False
    )
    assert len(table) == 4 * 2 * len(optimiser.STYLES)
    assert (table.split == "test").sum() == 4 * len(optimiser.STYLES)
    assert set(table[table.split == "test"]["style words"]) == set(optimiser.STYLES)
    assert (table["likes"] >= 0).all()
    assert table[["reward", "likes"]].corr(method="spearman").iloc[0, 1] > 0.3
    truth = optimiser.ground_truth(table, pick="best")
    assert set(truth) == set(table["prompt"])
    best = optimiser.top_liked(table, 1)
    assert len(best) == len(train_prompts) and all(truth[p] == n for p, n in best)
    # the default: each prompt's negative of median likes (the lower middle of 4)
    typical = optimiser.ground_truth(table)
    assert set(typical) == set(table["prompt"])
    for prompt, negative in typical.items():
        likes = table[table.prompt == prompt].set_index("negative")["likes"]
        assert (likes < likes[negative]).sum() <= 1 <= (likes <= likes[negative]).sum() - 1
    with pytest.raises(ValueError, match="pick"):
        optimiser.ground_truth(table, pick="mean")


def test_sft_teaches_the_prompt_model_the_pairs():
    tokenizer = optimiser.policy_tokenizer()
    policy = optimiser.make_policy(tokenizer, seed=0)
    pairs = [("a seven", "blurry, noisy"), ("a one", "thin"), ("a bold two", "watermark")] * 20
    trace = optimiser.train_sft(policy, tokenizer, pairs, steps=120, batch=16, lr=5e-3)
    assert trace[-1]["loss"] < trace[0]["loss"] / 4
    written = optimiser.write_negatives(policy, tokenizer, ["a seven", "a one", "a bold two"])
    assert written == ["blurry, noisy", "thin", "watermark"]


def test_rl_on_a_toy_reward_finds_its_best_negative():
    tokenizer = optimiser.policy_tokenizer()
    policy = optimiser.make_policy(tokenizer, seed=0)

    def toy(prompts, completions, **kwargs):  # best: "faint" and nothing else
        words = [c.replace(",", " ").split() for c in completions]
        return [float("faint" in w) - 0.1 * max(0, len(w) - 1) for w in words]

    prompts = ["a seven", "a one", "a bold two", "a thin four"]
    trace = optimiser.train_rl(policy, tokenizer, toy, prompts, steps=300, lr=3e-3, seed=0)
    assert sum(r["reward"] for r in trace[-10:]) > sum(r["reward"] for r in trace[:10])
    assert optimiser.write_negatives(policy, tokenizer, prompts) == ["faint"] * 4


def test_clone_policy_copies_the_weights_into_a_separate_model():
    tokenizer = optimiser.policy_tokenizer()
    policy = optimiser.make_policy(tokenizer, seed=0)
    copy = optimiser.clone_policy(policy)
    assert all(
        torch.equal(a, b) for a, b in zip(policy.parameters(), copy.parameters(), strict=True)
    )
    with torch.no_grad():
        next(copy.parameters()).add_(1.0)
    assert not torch.equal(next(copy.parameters()), next(policy.parameters()))


def test_with_style_puts_the_written_style_words_before_the_digit():
    prompt = optimiser.CoursePrompt("a seven", 7, ())
    assert optimiser.with_style(prompt, "bold, watermark slanted").text == "a bold slanted seven"
    assert optimiser.with_style(prompt, "ugly").text == "a seven"
    assert optimiser.with_style(prompt, "upright").words == ()  # judged as first asked


def test_a_learned_negative_embedding_moves_and_leaves_the_model_unchanged(tiny_pipe):
    from noise2image.diffusion.defects import DefectDetector

    weights = {k: v.clone() for k, v in tiny_pipe.unet.state_dict().items()}
    prompts = optimiser.course_prompts(("",), digits=(1, 7))
    embeds, trace = optimiser.learn_negative_embedding(
        tiny_pipe,
        prompts,
        DefectDetector().eval(),
        steps=3,
        batch=2,
        grad_steps=1,
        num_inference_steps=2,
        progress=False,
    )
    empty = tiny_pipe.encode_prompt("", do_classifier_free_guidance=False)[0]
    assert embeds.shape == empty.shape and not torch.equal(embeds, empty)
    assert not embeds.requires_grad and len(trace) == 3
    assert all(torch.equal(v, tiny_pipe.unet.state_dict()[k]) for k, v in weights.items())
    words = optimiser.nearest_words(tiny_pipe, embeds, k=3)
    assert len(words) == 3 and words[0][1] >= words[1][1] >= words[2][1]


def test_compare_methods_gives_a_row_per_method_and_seed(reward):
    prompts = optimiser.course_prompts(("",), digits=(1, 7))
    empty = reward.pipe.encode_prompt("", do_classifier_free_guidance=False)[0]
    result = optimiser.compare_methods(
        reward, prompts, {"none": ["", ""], "embedding": empty}, seeds=(1, 2), progress=False
    )
    assert len(result.table) == 4 and len(result.pairs) == 8
    assert {"IS", "clarity", "FID", "alignment", "reward"} <= set(result.table.columns)
    none = result.table[result.table.method == "none"].drop(columns="method")
    embedding = result.table[result.table.method == "embedding"].drop(columns="method")
    # the empty prompt's embedding is the empty negative prompt
    assert torch.allclose(torch.tensor(none.values), torch.tensor(embedding.values))
    summary = optimiser.summary(result.table, baseline="none")
    assert (summary["change"].loc["none"] == 0).all() and (summary["spread"] >= 0).all().all()


def test_likes_of_other_pairs_do_not_move_when_one_reward_moves_in_its_last_bits():
    import numpy as np

    rewards = np.linspace(0.5, 0.9, 200)
    likes = optimiser.simulated_likes(rewards, torch.Generator().manual_seed(0))
    nudged = rewards.copy()
    nudged[3] = np.nextafter(nudged[3], 1.0)  # another CPU's last bit
    again = optimiser.simulated_likes(nudged, torch.Generator().manual_seed(0))
    assert (likes == again).all()
    assert (likes >= 0).all() and likes.dtype == np.int64
    # more reward, more likes on average (the rate grows with the standardised reward)
    assert likes[-50:].mean() > 2 * likes[:50].mean()
