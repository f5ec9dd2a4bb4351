"""The second-CPU check: run the chapters under other CPU kernel sets and measure how far
every recorded number moves.

PyTorch (ATen), oneDNN and MKL pick their vector kernels when they start, from the CPU they
find; an AVX-512 Intel Xeon and an AVX2 AMD EPYC then sum in other orders and round
differently. The same libraries can be told to use an older set, which emulates another
CPU on this one:

    python -m tools.kernels run --profile smoke           # native + the other set
    python -m tools.kernels run --profile smoke 09_learned_negative_prompts --sets native avx2
    python -m tools.kernels drift --profile smoke --write # spreads into tests/expected
    python -m tools.kernels drift --profile full --widen  # only widen their drift

``run`` executes the chapters once per kernel set, each with its own empty model cache (a
model cached by one set would hide the next set's drift), into ``_build/kernels/SET/``.
``drift`` compares what they recorded: every number's spread (largest minus smallest)
and every word that differed; with ``--write`` the spreads become the expected files'
per-number tolerances (:mod:`tools.expected`); with ``--widen`` they only widen the drift
already there, keeping the values and what other machines were seen to give (for chapters
whose expected numbers came from another machine). ``make test`` runs the smoke chapters under
:func:`other_set` as well, and checks their numbers against the same expected files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import ROOT
from .expected import (
    EXPECTED,
    expected_file,
    flat,
    is_number,
    platform_name,
    widen_drift,
    write_expected,
)

KERNEL_SETS = {
    "native": {},
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    },
    "default": {
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
    },
}
"""Environment variables of each kernel set (names as read by torch 2.14's ATen, oneDNN 3
and MKL 2024). ``avx2`` is an AMD EPYC's own set, and what an AVX-512 Xeon falls back to;
``default`` is ATen without vector kernels and oneDNN / MKL at SSE4: the farthest set this
machine can run, the stand-in for a CPU it cannot emulate (AVX-512 on an AVX2 machine)."""
OUT = ROOT / "_build" / "kernels"


def capability(env: dict[str, str] | None = None) -> str:
    """The ATen kernel set torch picks in a new process under ``env`` ("AVX2", ...)."""
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **(env or {})},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def other_set() -> str:
    """The emulated set farthest from this CPU's own: ``"avx2"`` on an AVX-512 machine,
    ``"default"`` on an AVX2 one (where ``avx2`` would emulate nothing)."""
    return "avx2" if capability().upper().startswith("AVX512") else "default"


def environment(name: str, cache: Path | None = None) -> dict[str, str]:
    """This process's environment with the kernel set ``name`` (and a model cache)."""
    if name not in KERNEL_SETS:
        raise ValueError(f"kernel set {name!r} is not known; choose one of: {list(KERNEL_SETS)}")
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_SETS["default"]}
    env.update(KERNEL_SETS[name])
    if cache is not None:
        env["NOISE2IMAGE_CACHE"] = str(cache)
    return env


def run(profile: str, sets: list[str], selected: list[str], out: Path = OUT) -> None:
    """Execute the chosen chapters (default: all) once per kernel set."""
    from noise2image.runner import chapters

    paths = [p for p in chapters(ROOT / "notebooks") if not selected or p.stem in selected]
    for label in sets:
        name = other_set() if label == "other" else label
        folder = out / f"{label}-{profile}"
        cache = fresh_cache(folder / "cache")
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "noise2image.runner", "--profile", profile,
             "--out", str(folder), *map(str, paths)],
            env=environment(name, cache), check=True, cwd=ROOT,
        )  # fmt: skip
        (folder / "kernel-set.txt").write_text(f"{name}\n")
        print(f"kernel set {name} ({capability(environment(name))}): "
              f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip


def fresh_cache(folder: Path) -> Path:
    """An empty model cache for one kernel set, holding only the rendered data sets of this
    machine's cache (files, which no kernel set computes; the models are folders)."""
    import shutil

    from noise2image.checkpoints import cache_dir

    shutil.rmtree(folder, ignore_errors=True)  # our own build folder, never the user's cache
    folder.mkdir(parents=True)
    for data in cache_dir().glob("*.npz"):
        shutil.copy(data, folder / data.name)
    return folder


def drift(folders: list[Path]) -> dict[str, tuple[dict[str, float], dict[str, list]]]:
    """Per chapter: every number's spread across ``folders`` (executed copies of the same
    chapters under different kernel sets) and every word that was not the same in all."""
    from noise2image.records import recorded

    stems = sorted(
        set.intersection(*({p.stem for p in (f / "notebooks").glob("[0-9][0-9]_*.ipynb")}
                           for f in folders))
    )  # fmt: skip
    found = {}
    for stem in stems:
        runs = [flat(recorded(f / "notebooks" / f"{stem}.ipynb")) for f in folders]
        spreads, words = {}, {}
        for name in runs[0]:
            values = [r.get(name) for r in runs]
            if all(is_number(v) for v in values):
                spread = max(values) - min(values)
                if spread == spread and spread > 0:  # NaN spreads are not drift
                    spreads[name] = spread
            elif len({json.dumps(v) for v in values}) > 1:
                words[name] = sorted({v for v in values if v is not None}, key=str)
        found[stem] = (spreads, words)
    return found


def report(found, profile: str) -> list[str]:
    """One line per chapter, then every CPU-fragile word and the largest relative drifts."""
    lines = []
    for stem, (spreads, words) in found.items():
        values = json.loads(expected_file(stem, profile).read_text())["values"]
        relative = sorted(
            ((s / max(abs(values.get(n, 0) or 0), 1e-12), n) for n, s in spreads.items()),
            reverse=True,
        )
        top = ", ".join(f"{n} {100 * r:.2g} %" for r, n in relative[:3]) or "none"
        lines.append(f"{stem}: {len(spreads)} numbers moved (largest: {top}); "
                     f"{len(words)} words differ")  # fmt: skip
        lines += [f"  word {n}: {v}" for n, v in words.items()]
    return lines


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tools.kernels",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("run", "drift"):
        p = sub.add_parser(command)
        p.add_argument("--profile", choices=("smoke", "full"), default="smoke")
        p.add_argument(
            "--sets",
            nargs="+",
            choices=[*KERNEL_SETS, "other"],
            default=None,
            help="kernel sets (other: the one farthest from this CPU's own)",
        )
        p.add_argument("--out", type=Path, default=OUT)
        p.add_argument("chapters", nargs="*", help="chapter stems (default: all)")
        if command == "drift":
            how = p.add_mutually_exclusive_group()
            how.add_argument(
                "--write",
                action="store_true",
                help="write the spreads into tests/expected (values from native)",
            )
            how.add_argument(
                "--widen",
                action="store_true",
                help="only widen tests/expected's drift by the spreads (values, tolerance "
                "and drift seen on other machines kept)",
            )
    p = sub.add_parser("other", help="print the kernel set make test emulates here")
    args = parser.parse_args(argv)
    if args.command == "other":
        print(other_set())
        return 0
    sets = args.sets or ["native", "other"]
    if args.command == "run":
        run(args.profile, sets, args.chapters, args.out)
        return 0
    folders = [args.out / f"{name}-{args.profile}" for name in sets]
    found = drift(folders)
    if args.chapters:
        missing = [stem for stem in args.chapters if stem not in found]
        if missing:
            print(f"no run of {missing} under every kernel set in {args.out} "
                  f"(--profile {args.profile}); runs there: {sorted(found) or 'none'}")  # fmt: skip
            return 2
        found = {stem: found[stem] for stem in args.chapters}
    print("\n".join(report(found, args.profile)))
    if args.widen:
        names = [(f / "kernel-set.txt").read_text().strip() for f in folders]
        note = f"widened by kernel sets {', '.join(names)} on {capability()} ({platform_name()})"
        for stem, (spreads, words) in found.items():
            print("\n".join(widen_drift(stem, args.profile, spreads, words, note)))
    elif args.write:
        for stem, (spreads, words) in found.items():
            path = write_expected(
                folders[0] / "notebooks" / f"{stem}.ipynb", args.profile, EXPECTED,
                drift=spreads, seen=words,
            )  # fmt: skip
            contents = json.loads(path.read_text())
            names = [(f / "kernel-set.txt").read_text().strip() for f in folders]
            contents["measured on"] = (
                f"kernel sets {', '.join(names)} on {capability()} ({platform_name()})"
            )
            path.write_text(json.dumps(contents, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
