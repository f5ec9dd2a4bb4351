"""Chapter 10's shipped colour model, measured on this machine in one run.

1. Sampling speed: 500 pictures (64 × 64 × 3) at 25 steps with guidance 4 (two predictions
   a step), best of 3 after a warm-up, beside the reference: chapter 8's shipped digit
   pipeline on the same 500-picture job.
2. The acceptance measures of chapter 10's issue, on prompts and seeds the chapter does not
   choose (:mod:`noise2image.diffusion.colour_eval`): 200 training names (classified as
   asked; nearest training picture = the asked emoji; near-copies), the 30 paraphrases
   (4 pictures each, classified as the meant subgroup), the 8 held-out pairs (16 pictures
   each: colour, shape, both), "a heart" with the negative prompt "red", "a face" with
   "smiling" and "an animal" without the animal it draws most often, on 3 seeds.
3. Where the training names in a skin tone miss: for each, whether its nearest training
   picture is the asked emoji in the asked tone, one or more tone steps off, or another
   emoji; and the names' measures at guidance 2, 4, 7 and 10 (is the chapter's 4 the best?).

Results go to ``benchmarks/colour_model.md``.

    python benchmarks/colour_model.py
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time
from collections import Counter
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def _best_of_3(job) -> list[float]:
    job(50)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        job(500)
        times.append(time.perf_counter() - started)
    return times


def _pct(s: dict) -> str:
    return f"{s['k']}/{s['n']} = {s['share']:.1%} [{s['low']:.1%}, {s['high']:.1%}]"


def _tone_misses(trained: dict, train) -> Counter:
    """The training names asked in a skin tone, by where their nearest training picture is."""
    from noise2image.diffusion.colour_eval import tone_steps

    out = Counter()
    for asked, j in zip(trained["asked"], trained["nearest"], strict=True):
        if not asked.tone:
            continue
        near = train.entries[j]
        steps = tone_steps(asked, near)
        if near.name != asked.name:
            out["another emoji"] += 1
        elif near.tone == asked.tone:
            out["the asked emoji in the asked tone"] += 1
        elif steps is not None:
            out[f"the asked emoji, {steps} tone step{'s' if steps > 1 else ''} off"] += 1
        else:
            out["the asked emoji, another mix of tones (or none)"] += 1
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(HERE / "colour_model.md"))
    args = parser.parse_args()

    from noise2image.diffusion import colour_eval, colour_shipped, emoji_captions, evaluate
    from noise2image.diffusion import train as digits

    torch.set_num_threads(2)
    result, classifier, classes = colour_shipped.load_shipped()
    pipe = result.pipeline
    names = [colour_eval.prompt_of(e) for e in emoji_captions.training_set().entries[:500]]
    colour_times = _best_of_3(lambda n: colour_eval.draw(pipe, names[:n], seed=0, batch=500))
    reference = digits.load_shipped().pipeline
    prompts, _ = evaluate.digit_prompts(50)
    digit_times = _best_of_3(
        lambda n: evaluate.pictures_for(
            reference, prompts[:n], num_inference_steps=25, guidance_scale=4.0
        )
    )

    trained = colour_eval.training_names(pipe, classifier, classes)
    para = colour_eval.paraphrases(pipe, classifier, classes)
    pairs = colour_eval.held_out_pairs(pipe)
    red = colour_eval.negative_colour(pipe)
    smiling = colour_eval.subgroup_judge(classifier, classes, "face-smiling")
    face = colour_eval.negative_concept(pipe, "a face", "smiling", smiling)
    animal = colour_eval.most_drawn(pipe, "an animal", 0, subgroup_prefix="animal")
    erased = colour_eval.negative_concept(
        pipe, "an animal", animal["name"], colour_eval.nearest_name_judge(animal["name"])
    )
    train = emoji_captions.training_set()
    misses = _tone_misses(trained, train)
    by_guidance = {
        g: colour_eval.training_names(pipe, classifier, classes, guidance_scale=g)
        for g in (2.0, 4.0, 7.0, 10.0)
    }
    meta = colour_shipped.shipped_folder() / "shipped.json"
    import json

    record = json.loads(meta.read_text())
    lines = [
        "# Chapter 10's shipped colour model: speed and acceptance measures",
        "",
        f"Measured {datetime.date.today()} by `python benchmarks/colour_model.py` on "
        f"{platform.machine()} ({platform.processor() or 'cpu'}), {torch.get_num_threads()} "
        f"torch threads, torch {torch.__version__}.",
        "",
        "## Training (from `shipped.json`)",
        "",
        f"- autoencoder: {record['vae']['train_seconds'] / 60:.1f} min, held-out PSNR "
        f"{record['vae']['held_out_psnr']:.2f} dB",
        f"- denoiser: {result.config.epochs} epochs, {result.train_seconds / 60:.1f} min",
        f"- classifier: {record['classifier']['train_seconds'] / 60:.1f} min, test accuracy on "
        f"unseen emoji {record['classifier']['trace'][-1]['test acc (unseen emoji)']:.1%}",
        "",
        "## Sampling 500 pictures, 25 steps, guidance 4",
        "",
        "| pipeline | best of 3 (s) | all (s) |",
        "| --- | ---: | --- |",
        f"| chapter 10, 64×64×3 emoji | {min(colour_times):.1f} | "
        f"{', '.join(f'{t:.1f}' for t in colour_times)} |",
        f"| chapter 8, 28×28 digits (reference) | {min(digit_times):.1f} | "
        f"{', '.join(f'{t:.1f}' for t in digit_times)} |",
        "",
        "## Acceptance measures (shares with 95 % Wilson intervals)",
        "",
        f"- 200 training names: classified as asked {_pct(trained['classified as asked'])} "
        f"(the classifier on the same emoji's real pictures: "
        f"{_pct(trained['real pictures classified as asked'])}); "
        f"nearest training picture is the asked emoji {_pct(trained['nearest is asked'])} "
        f"(in any skin tone: {_pct(trained['nearest is asked, any tone'])}); "
        f"near-copies {_pct(trained['near copies'])}",
        f"- 30 paraphrases × 4: classified as the meant subgroup {_pct(para['as meant'])}",
        "",
        "| held-out pair | colour | shape | both |",
        "| --- | --- | --- | --- |",
    ]
    for row in pairs:
        lines.append(
            f"| {row['pair']} | {_pct(row['colour'])} | {_pct(row['shape'])} | "
            f"{_pct(row['both'])} |"
        )
    lines += ["", '| seed | red hearts without | with negative "red" |', "| ---: | --- | --- |"]
    for row in red:
        lines.append(f"| {row['seed']} | {_pct(row['without'])} | {_pct(row['with'])} |")
    lines += [
        "",
        f'| seed | "a face": smiling faces without | with negative "smiling" | "an animal": '
        f'{animal["name"]} without | with negative "{animal["name"]}" |',
        "| ---: | --- | --- | --- | --- |",
    ]
    for f, a in zip(face, erased, strict=True):
        lines.append(
            f"| {f['seed']} | {_pct(f['without'])} | {_pct(f['with'])} | {_pct(a['without'])} | "
            f"{_pct(a['with'])} |"
        )
    lines.append(
        f'\n(The animal is the one "an animal" draws most often on seed 0: {animal["k"]} of '
        f"{animal['n']} pictures.)"
    )
    lines += [
        "",
        "## Training names in a skin tone: where their nearest training picture is",
        "",
        f"{sum(misses.values())} of the 200 names ask for a skin tone. Their nearest training "
        "picture (the measure above) is:",
        "",
        "| nearest training picture | names |",
        "| --- | ---: |",
    ]
    lines += [f"| {what} | {k} |" for what, k in sorted(misses.items(), key=lambda kv: -kv[1])]
    lines += [
        "",
        "## The 200 training names at other guidance scales (seed 1, 25 steps)",
        "",
        "| guidance | classified as asked | nearest is asked | in any tone |",
        "| ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {g:g} | {m['classified as asked']['k']}/200 | {m['nearest is asked']['k']}/200 | "
        f"{m['nearest is asked, any tone']['k']}/200 |"
        for g, m in by_guidance.items()
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
