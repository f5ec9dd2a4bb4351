"""Training throughput of the course DCGAN against pytorch/examples' dcgan/main.py.

Both train the identical architecture (64x64x3, nz=100, ngf=ndf=64, batch 64, Adam
2e-4, beta1 0.5) on random "fake" pictures, on this machine's CPU, one after the other
in the same run. pytorch/examples' code is not part of this project: clone it anywhere
and pass the path of its dcgan/main.py:

    git clone https://github.com/pytorch/examples /tmp/pytorch-examples
    python benchmarks/gan_throughput.py --reference /tmp/pytorch-examples/dcgan/main.py

Throughput is steady-state: images per second between the first and the last training
iteration (start-up, imports and data-set creation excluded), and also the wall time of
the whole command, as a user sees it. Results go to benchmarks/gan_throughput.md.

Because both sides are compute-bound, the benchmark also counts the floating-point work of
one training step (torch.utils.flop_counter) for the course's step and for the sequence of
operations dcgan/main.py performs (re-implemented here for counting only: D on real, D on
the detached fake, D update, D on the fake again with D's weights still collecting
gradients, G update), and measures this CPU's fp32 peak on a large matrix product. From
these it prints the ceiling: the throughput the course's step would reach if it ran at
that peak from start to end.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def run_reference(main_py: Path, epochs: int) -> dict:
    """Run pytorch/examples' DCGAN on FakeData (1,000 pictures an epoch) and time it."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable,
            "-u",
            str(main_py),
            "--dataset",
            "fake",
            "--niter",
            str(epochs),
            "--batchSize",
            "64",
            "--outf",
            out,
            "--manualSeed",
            "0",
        ]
        start = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=out
        )
        stamps = []
        for line in process.stdout:
            if re.match(r"\[\d+/\d+\]\[\d+/\d+\] Loss_D", line):
                stamps.append(time.perf_counter())
        process.wait()
        wall = time.perf_counter() - start
    if process.returncode != 0 or len(stamps) < 3:
        raise RuntimeError(f"the reference run failed (exit {process.returncode})")
    # FakeData: 1,000 pictures, batch 64 -> 16 iterations an epoch (the last one has 40)
    images_total = 1000 * epochs
    iterations = len(stamps)
    per_iteration = (stamps[-1] - stamps[0]) / (iterations - 1)
    return {
        "wall_s": wall,
        "images": images_total,
        "steady_img_s": 64 / per_iteration,
        "wall_img_s": images_total / wall,
    }


def _openmoji_models():
    from noise2image import gan

    config = gan.GANConfig(dataset="openmoji", conditional=False, ngf=64, ndf=64, batch_size=64)
    torch.manual_seed(0)
    return gan, config, gan.Generator(config), gan.Discriminator(config)


def flops_per_step() -> dict:
    """Floating-point operations of one training step (batch 64): course and reference."""
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    gan, config, G, D = _openmoji_models()
    opt_g, opt_d = torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters())
    real = torch.rand(64, 3, 64, 64) * 2 - 1
    with FlopCounterMode(display=False) as course:
        gan.train_step(G, D, opt_g, opt_d, real, None, config, torch.Generator().manual_seed(0))
    ones, zeros = torch.ones(64), torch.zeros(64)
    with FlopCounterMode(display=False) as reference:  # the order of dcgan/main.py
        D.zero_grad()
        F.binary_cross_entropy_with_logits(D(real), ones).backward()
        fake = G(torch.randn(64, gan.NZ))
        F.binary_cross_entropy_with_logits(D(fake.detach()), zeros).backward()
        opt_d.step()
        G.zero_grad()
        F.binary_cross_entropy_with_logits(D(fake), ones).backward()  # D still requires grad
        opt_g.step()
    return {"course": course.get_total_flops(), "reference": reference.get_total_flops()}


def peak_gflops(n: int = 2048, repeats: int = 10) -> float:
    """This CPU's fp32 throughput on a large matrix product (all torch threads), GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def run_course(epochs: int) -> dict:
    """The course's loop (noise2image.gan.train_step) at the same architecture and data size."""
    start = time.perf_counter()
    gan, config, G, D = _openmoji_models()
    G = G.to(memory_format=torch.channels_last)
    D = D.to(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    data = (torch.rand(1000, 3, 64, 64) * 2 - 1).contiguous(memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(0)
    stamps = []
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=generator)
        for i in range(0, len(data), 64):
            real = data[order[i : i + 64]]
            gan.train_step(G, D, opt_g, opt_d, real, None, config, generator)
            stamps.append(time.perf_counter())
    wall = time.perf_counter() - start
    per_iteration = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
    return {
        "wall_s": wall,
        "images": 1000 * epochs,
        "steady_img_s": 64 / per_iteration,
        "wall_img_s": 1000 * epochs / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--reference", required=True, type=Path, help="path of pytorch/examples' dcgan/main.py"
    )
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    reference = run_reference(args.reference, args.epochs)
    course = run_course(args.epochs)
    ratio = course["steady_img_s"] / reference["steady_img_s"]
    ratio_wall = course["wall_img_s"] / reference["wall_img_s"]
    flops = flops_per_step()
    peak = peak_gflops()
    per_image = {k: v / 64 / 1e9 for k, v in flops.items()}  # GFLOP per trained image
    achieved = {
        "course": course["steady_img_s"] * per_image["course"],
        "reference": reference["steady_img_s"] * per_image["reference"],
    }
    ceiling = peak / per_image["course"]  # img/s at the measured peak, start to end
    needed = 2 * reference["steady_img_s"]
    lines = [
        "# DCGAN training throughput: the course against pytorch/examples",
        "",
        f"Measured {datetime.date.today()} by `python benchmarks/gan_throughput.py --reference "
        f".../dcgan/main.py --epochs {args.epochs}` on {platform.machine()}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}. Same architecture "
        "(64×64×3, nz 100, ngf = ndf = 64, batch 64), random pictures, CPU.",
        "",
        "| run | images | wall time (s) | images/s (steady) | images/s (wall) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| pytorch/examples dcgan/main.py | {reference['images']} | {reference['wall_s']:.1f} | "
        f"{reference['steady_img_s']:.1f} | {reference['wall_img_s']:.1f} |",
        f"| noise2image.gan.train_step | {course['images']} | {course['wall_s']:.1f} | "
        f"{course['steady_img_s']:.1f} | {course['wall_img_s']:.1f} |",
        "",
        f"Ratio (course / reference): **{ratio:.2f}×** steady-state, {ratio_wall:.2f}× wall time.",
        "",
        "## Where the time goes: arithmetic against this CPU's peak",
        "",
        "Floating-point work of one training step of 64 images, counted with "
        "`torch.utils.flop_counter` (the reference's order of operations re-implemented "
        "in this script for counting); this CPU's fp32 peak measured on a 2048×2048 "
        "matrix product.",
        "",
        "| run | GFLOP per step | GFLOP/s achieved (steady) | share of the measured peak |",
        "| --- | ---: | ---: | ---: |",
        f"| pytorch/examples dcgan/main.py | {flops['reference'] / 1e9:.1f} | "
        f"{achieved['reference']:.1f} | {achieved['reference'] / peak:.0%} |",
        f"| noise2image.gan.train_step | {flops['course'] / 1e9:.1f} | "
        f"{achieved['course']:.1f} | {achieved['course'] / peak:.0%} |",
        "",
        f"Measured fp32 peak: {peak:.1f} GFLOP/s. The course's step saves "
        f"{1 - flops['course'] / flops['reference']:.0%} of the reference's arithmetic (no "
        "discriminator weight gradients in the generator step) and runs its convolutions "
        "in channels_last. Even at the measured peak from the first operation to the last, "
        f"it would train {ceiling:.1f} images/s, {ceiling / reference['steady_img_s']:.2f}× "
        f"the reference; 2× ({needed:.1f} images/s) would need "
        f"{needed * per_image['course']:.1f} GFLOP/s sustained.",
        "",
    ]
    (HERE / "gan_throughput.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
