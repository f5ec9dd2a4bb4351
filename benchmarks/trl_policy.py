"""Is Hugging Face `trl` practical on this CPU for a tiny prompt -> negative-prompt policy?

Standalone benchmark (not imported by the book or the package); the pinned set has trl and
datasets (chapter 9 trains its prompt model with them), so it runs in the course's venv:

    .venv/bin/python benchmarks/trl_policy.py > benchmarks/trl_policy.md

It times, on one CPU thread:
  (a) trl.SFTTrainer, 100 optimizer steps, batch 16;
  (b) trl.GRPOTrainer, 20 steps, 4 prompts x 4 generations = 16 completions/step, Python reward;
  (c) the same steps as a plain torch loop: teacher-forced cross-entropy, then REINFORCE with a
      group-mean baseline.
and prints a markdown table. Both RL runs start from a copy of the trl-SFT policy.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
if not os.environ.get("TRL_BENCH_WARNINGS"):
    warnings.filterwarnings("ignore")

T_START = time.perf_counter()
import torch  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
import datasets  # noqa: E402
import transformers  # noqa: E402
from datasets import Dataset  # noqa: E402

datasets.disable_progress_bars()
from tokenizers import Tokenizer, models, pre_tokenizers, processors  # noqa: E402
from transformers import (  # noqa: E402
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
    TrainerCallback,
)
from transformers.trainer_callback import PrinterCallback, ProgressCallback  # noqa: E402

T_BASE = time.perf_counter() - T_START
_t = time.perf_counter()
import trl  # noqa: E402
from trl import GRPOConfig, GRPOTrainer, SFTConfig, SFTTrainer  # noqa: E402

T_TRL_IMPORT = time.perf_counter() - _t

SFT_STEPS, SFT_BATCH, SFT_LR = 100, 16, 1e-3
RL_STEPS, NUM_GEN, PROMPTS_PER_STEP, MAX_NEW, RL_LR = 20, 4, 4, 6, 1e-3
RL_LONG_STEPS = 200  # a second, longer RL run only to check that the reward actually rises
SEED = 0

DIGITS = "zero one two three four five six seven eight nine".split()
STYLES = (
    "bold thin slanted upright wide narrow tall small large italic "
    "thick light heavy sharp clean centered handwritten printed"
).split()
NEGATIVES = (
    "blurry noisy faint pixelated smudged jagged distorted grainy washed dark "
    "cropped rotated broken messy low quality"
).split()
SPECIALS = ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[SEP]"]


# ---------------------------------------------------------------- tokenizer / model / data
def build_tokenizer() -> PreTrainedTokenizerFast:
    words = (
        SPECIALS
        + ["a", "digit", "number", "the", "of", "with", ",", "and", "no", "not"]
        + DIGITS
        + STYLES
        + NEGATIVES
    )
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    # prepend [BOS] to every encoding: trl tokenizes prompts with tokenizer(text=...)
    core.post_processor = processors.TemplateProcessing(
        single="[BOS] $A", pair="[BOS] $A $B", special_tokens=[("[BOS]", vocab["[BOS]"])]
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="[PAD]",
        unk_token="[UNK]",
        bos_token="[BOS]",
        eos_token="[EOS]",
        sep_token="[SEP]",
        model_max_length=32,
    )
    return tok


def build_model(tok: PreTrainedTokenizerFast) -> GPT2LMHeadModel:
    cfg = GPT2Config(
        n_layer=2,
        n_head=2,
        n_embd=64,
        vocab_size=len(tok),
        n_positions=32,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    model = GPT2LMHeadModel(cfg)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.bos_token_id = tok.bos_token_id
    return model


def build_dataset(n: int = 400) -> Dataset:
    rng = random.Random(SEED)
    rows = []
    for _ in range(n):
        prompt = f"a {rng.choice(STYLES)} {rng.choice(DIGITS)} [SEP]"
        negs = rng.sample(NEGATIVES, rng.randint(1, 3))
        # the completion starts with a space: SFTTrainer concatenates prompt + completion as strings
        rows.append({"prompt": prompt, "completion": " " + " , ".join(negs)})
    return Dataset.from_list(rows)


def blurry_reward(completions, **kwargs) -> list[float]:
    """Constant-cost Python reward: how many times the word "blurry" appears."""
    return [float(c.split().count("blurry")) for c in completions]


class StepTimer(TrainerCallback):
    """Wall time of every optimizer step, measured from trainer callbacks."""

    def __init__(self):
        self.times: list[float] = []
        self._t = None

    def on_step_begin(self, args, state, control, **kw):
        self._t = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        self.times.append(time.perf_counter() - self._t)


def clone_policy(tok, model):
    """Fresh copy of a policy's weights.

    Not copy.deepcopy: trl 1.16 trainers patch `model.forward` on the instance
    (add_fused_lm_head) with a closure over the original bound forward, so a deep copy
    would still run -- and train -- the ORIGINAL weights.
    """
    fresh = build_model(tok)
    fresh.load_state_dict(model.state_dict())
    return fresh


def quiet(trainer):
    for cb in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(cb)
    return trainer


@torch.no_grad()
def eval_reward(model, tok, prompts: list[str], n: int = 4) -> float:
    """Mean blurry_reward over n sampled completions per prompt."""
    model.eval()
    enc = tok(prompts, return_tensors="pt", padding=True, padding_side="left")
    out = model.generate(
        **enc,
        do_sample=True,
        max_new_tokens=MAX_NEW,
        num_return_sequences=n,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    texts = tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return statistics.fmean(blurry_reward(texts))


def common_args(outdir: str) -> dict:
    return dict(
        output_dir=outdir,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        bf16=False,  # trl defaults bf16=True (also on CPU)
        # trl defaults gradient_checkpointing=True; transformers 5 renamed it
        activation_checkpointing=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
        seed=SEED,
    )


# --------------------------------------------------------------------------- (a) trl SFT
def run_trl_sft(tok, ds, outdir, trl_defaults=False):
    torch.manual_seed(SEED)
    model = build_model(tok)
    t0 = time.perf_counter()
    common = common_args(outdir)
    if trl_defaults:  # keep trl's bf16=True and gradient checkpointing=True
        del common["bf16"], common["activation_checkpointing"]
    args = SFTConfig(
        **common,
        max_steps=SFT_STEPS,
        per_device_train_batch_size=SFT_BATCH,
        learning_rate=SFT_LR,
        lr_scheduler_type="constant",
        warmup_steps=0,
        logging_strategy="no",
        max_length=32,
        dataset_num_proc=None,
    )
    timer = StepTimer()
    trainer = quiet(
        SFTTrainer(
            model=model, args=args, train_dataset=ds, processing_class=tok, callbacks=[timer]
        )
    )
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = trainer.train()
    train = time.perf_counter() - t1
    return dict(
        model=trainer.model, setup=setup, train=train, steps=timer.times, loss=out.training_loss
    )


# --------------------------------------------------------------------------- (b) trl GRPO
def run_trl_grpo(tok, init_model, ds, outdir, steps=RL_STEPS):
    model = clone_policy(tok, init_model)
    prompts = ds.remove_columns(["completion"])
    t0 = time.perf_counter()
    args = GRPOConfig(
        **common_args(outdir),
        max_steps=steps,
        per_device_train_batch_size=NUM_GEN * PROMPTS_PER_STEP,  # counts completions, not prompts
        num_generations=NUM_GEN,
        max_completion_length=MAX_NEW,
        learning_rate=RL_LR,
        lr_scheduler_type="constant",
        warmup_steps=0,
        logging_strategy="steps",
        logging_steps=1,  # to read the per-step reward from log_history
        beta=0.0,  # no reference model
        temperature=1.0,
    )
    timer = StepTimer()
    trainer = quiet(
        GRPOTrainer(
            model=model,
            reward_funcs=[blurry_reward],
            args=args,
            train_dataset=prompts,
            processing_class=tok,
            callbacks=[timer],
        )
    )
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    trainer.train()
    train = time.perf_counter() - t1
    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    return dict(model=trainer.model, setup=setup, train=train, steps=timer.times, rewards=rewards)


# --------------------------------------------------------------------------- (c) plain torch
def run_torch_sft(tok, ds):
    torch.manual_seed(SEED)
    t0 = time.perf_counter()
    model = build_model(tok)
    full = [p + c + tok.eos_token for p, c in zip(ds["prompt"], ds["completion"], strict=True)]
    enc = tok(full, return_tensors="pt", padding=True, padding_side="right")
    plen = len(tok(ds["prompt"][0])["input_ids"])  # all prompts have the same length here
    ids, mask = enc["input_ids"], enc["attention_mask"]
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :plen] = -100  # completion-only loss, like SFTTrainer on prompt/completion data
    opt = torch.optim.AdamW(model.parameters(), lr=SFT_LR)
    g = torch.Generator().manual_seed(SEED)
    setup = time.perf_counter() - t0
    model.train()
    times, losses = [], []
    t1 = time.perf_counter()
    for _ in range(SFT_STEPS):
        ts = time.perf_counter()
        idx = torch.randint(0, ids.shape[0], (SFT_BATCH,), generator=g)
        loss = model(input_ids=ids[idx], attention_mask=mask[idx], labels=labels[idx]).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        times.append(time.perf_counter() - ts)
    train = time.perf_counter() - t1
    return dict(model=model, setup=setup, train=train, steps=times, loss=statistics.fmean(losses))


def completion_logprob_sum(model, seqs, attn, plen, comp_mask):
    logits = model(input_ids=seqs, attention_mask=attn).logits[:, plen - 1 : -1]
    logp = torch.log_softmax(logits.float(), -1).gather(-1, seqs[:, plen:, None]).squeeze(-1)
    return (logp * comp_mask).sum(-1)


def run_torch_reinforce(tok, init_model, ds, steps=RL_STEPS):
    t0 = time.perf_counter()
    model = clone_policy(tok, init_model)
    opt = torch.optim.AdamW(model.parameters(), lr=RL_LR)
    prompts = list(ds["prompt"])
    rng = random.Random(SEED)
    eos = tok.eos_token_id
    setup = time.perf_counter() - t0
    times, rewards = [], []
    t1 = time.perf_counter()
    for _ in range(steps):
        ts = time.perf_counter()
        batch = rng.sample(prompts, PROMPTS_PER_STEP)
        enc = tok(batch, return_tensors="pt", padding=True, padding_side="left")
        plen = enc["input_ids"].shape[1]
        model.eval()
        with torch.no_grad():
            seqs = model.generate(
                **enc,
                do_sample=True,
                max_new_tokens=MAX_NEW,
                num_return_sequences=NUM_GEN,  # rows are grouped per prompt
                pad_token_id=tok.pad_token_id,
                eos_token_id=eos,
            )
        comp = seqs[:, plen:]
        # keep tokens up to and including the first EOS
        is_eos = comp == eos
        after_eos = (is_eos.cumsum(-1) - is_eos.long()) > 0
        comp_mask = (~after_eos).float()
        attn = torch.cat([enc["attention_mask"].repeat_interleave(NUM_GEN, 0), comp_mask.long()], 1)
        r = torch.tensor(blurry_reward(tok.batch_decode(comp, skip_special_tokens=True)))
        adv = (
            r.view(PROMPTS_PER_STEP, NUM_GEN)
            - r.view(PROMPTS_PER_STEP, NUM_GEN).mean(1, keepdim=True)
        ).view(-1)
        model.train()
        logp = completion_logprob_sum(model, seqs, attn, plen, comp_mask)
        loss = -(adv * logp).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        rewards.append(r.mean().item())
        times.append(time.perf_counter() - ts)
    train = time.perf_counter() - t1
    return dict(model=model, setup=setup, train=train, steps=times, rewards=rewards)


# --------------------------------------------------------------------------- report
def summarise(name, res, n, notes):
    st = res["steps"]
    warm = st[1:] if len(st) > 1 else st
    return (
        f"| {name} | {n} | {res['train'] / n:.4f} | {statistics.median(warm):.4f} | "
        f"{res['setup']:.2f} | {res['setup'] + res['train']:.2f} | {notes} |"
    )


def rose(rewards):
    k = max(1, len(rewards) // 4)
    first, last = statistics.fmean(rewards[:k]), statistics.fmean(rewards[-k:])
    return first, last


def main():
    tok = build_tokenizer()
    ds = build_dataset()
    print(
        f"python {sys.version.split()[0]} | torch {torch.__version__} "
        f"| transformers {transformers.__version__} | trl {trl.__version__} "
        f"| datasets {datasets.__version__} | threads {torch.get_num_threads()}"
    )
    print(
        f"vocab {len(tok)} | example: {ds[0]} -> ids "
        f"{tok(ds[0]['prompt'] + ds[0]['completion'])['input_ids']}"
    )
    print(
        f"import torch+transformers+datasets: {T_BASE:.2f}s, "
        f"then trl + 4 trainer classes: {T_TRL_IMPORT:.2f}s"
    )
    print(f"policy params: {sum(p.numel() for p in build_model(tok).parameters()):,}")

    eval_prompts = [
        f"a {s} {d} [SEP]" for s in STYLES[:8] for d in DIGITS
    ]  # 80 prompts x 8 samples

    def ev(model, seed):
        torch.manual_seed(seed)
        return eval_reward(model, tok, eval_prompts, n=8)

    with tempfile.TemporaryDirectory() as outdir:
        a = run_trl_sft(tok, ds, outdir)
        a_def = run_trl_sft(tok, ds, outdir, trl_defaults=True)
        r0 = ev(a["model"], 1)
        b = run_trl_grpo(tok, a["model"], ds, outdir)
        b_long = run_trl_grpo(tok, a["model"], ds, outdir, steps=RL_LONG_STEPS)
    c_sft = run_torch_sft(tok, ds)
    torch.manual_seed(SEED)
    c_rl = run_torch_reinforce(tok, a["model"], ds)
    torch.manual_seed(SEED)
    c_rl_long = run_torch_reinforce(tok, a["model"], ds, steps=RL_LONG_STEPS)
    rb, rb_long = ev(b["model"], 2), ev(b_long["model"], 2)
    rc, rc_long = ev(c_rl["model"], 2), ev(c_rl_long["model"], 2)

    torch.manual_seed(3)
    enc = tok(eval_prompts[:3], return_tensors="pt", padding=True, padding_side="left")
    for name, m in (("after SFT", a["model"]), (f"after GRPO x{RL_LONG_STEPS}", b_long["model"])):
        m.eval()
        with torch.no_grad():
            out = m.generate(
                **enc, do_sample=True, max_new_tokens=MAX_NEW, pad_token_id=tok.pad_token_id
            )
        texts = tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        print(
            f"samples {name}: "
            + " | ".join(f"{p[:-6]} -> {t}" for p, t in zip(eval_prompts, texts, strict=False))
        )

    k = PROMPTS_PER_STEP * NUM_GEN
    print()
    print(
        "| method | steps | s/step (train wall / steps) | median s/step (excl. 1st) "
        "| setup s | total s | notes |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        summarise(
            "trl SFTTrainer",
            a,
            SFT_STEPS,
            f"batch {SFT_BATCH}; mean loss {a['loss']:.3f}; fp32, no ckpt",
        )
    )
    print(
        summarise(
            "trl SFTTrainer, trl defaults",
            a_def,
            SFT_STEPS,
            f"bf16 autocast + grad checkpointing; loss {a_def['loss']:.3f}",
        )
    )
    print(
        summarise(
            "torch SFT loop", c_sft, SFT_STEPS, f"batch {SFT_BATCH}; mean loss {c_sft['loss']:.3f}"
        )
    )
    for name, res, steps, rl in (
        ("trl GRPOTrainer", b, RL_STEPS, rb),
        ("torch REINFORCE loop", c_rl, RL_STEPS, rc),
        ("trl GRPOTrainer", b_long, RL_LONG_STEPS, rb_long),
        ("torch REINFORCE loop", c_rl_long, RL_LONG_STEPS, rc_long),
    ):
        first, last = rose(res["rewards"])
        print(
            summarise(
                name,
                res,
                steps,
                f"{PROMPTS_PER_STEP}x{NUM_GEN}={k} completions/step; train reward 1st/last quarter "
                f"{first:.2f}->{last:.2f}; eval reward {r0:.3f}->{rl:.3f}",
            )
        )
    print()
    print(
        f"eval reward = mean count of 'blurry' over {len(eval_prompts)} prompts x 8 samples "
        f"(after SFT: {r0:.3f})"
    )
    print(
        f"GRPO reward rose in {RL_STEPS} steps: {rb > r0 + 0.05}; "
        f"in {RL_LONG_STEPS} steps: {rb_long > r0 + 0.05}"
    )
    print(
        f"GRPO {RL_STEPS}-step per-step train reward: {' '.join(f'{x:.2f}' for x in b['rewards'])}"
    )
    print(
        "setup = config + trainer construction (incl. trl's dataset tokenisation); "
        "total = setup + train()"
    )
    print("RL runs start from the (fp32) trl-SFT model")
    print(f"total script {time.perf_counter() - T_START:.1f}s")


if __name__ == "__main__":
    main()
