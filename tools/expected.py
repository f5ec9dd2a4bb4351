"""Every chapter's recorded numbers (the ones its prose reads, glued) against the expected
values kept in ``tests/expected/CHAPTER.PROFILE.json``.

    python -m tools.expected check _build/jupyter_execute/notebooks --profile full
    python -m tools.expected check _build/smoke/notebooks --profile smoke --write
    python -m tools.expected observed tests/expected/observed/full-ci-2026-12-05.txt --profile full

An expected file holds the values, a floor tolerance and, per number, the **drift**
measured across CPU kernel sets (:mod:`tools.kernels`): a number may differ from its
expected value by ``max(floor, DRIFT_FACTOR * drift)``. A word (a verdict, a chosen
word) must match exactly, unless the kernel sets were seen to give other words, which are
then listed in the file (``"words seen"``) and accepted: such a word is CPU-fragile, and
the drift report names it.

``observed`` folds in what another machine printed: ``check``'s problem lines from a CPU
this one cannot emulate (CI's, kept under ``tests/expected/observed/``) widen each named
number's drift to the distance seen there and add each other word to the words seen.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from noise2image.records import recorded

from . import ROOT, prose

EXPECTED = ROOT / "tests" / "expected"
FLOOR = {"relative": 0.005, "absolute": 0.001}
"""The tolerance of a number that no kernel set moved: seeded runs on one CPU and torch
build reproduce every number to the digit, and this floor covers the last bits of a CPU
the drift check could not emulate."""
DRIFT_FACTOR = 3.0
"""A number may move by this many times its measured cross-kernel drift: the drift
between AVX2 and the emulated sets here stands in for AVX-512's, which cannot be
emulated on an AVX2 machine."""


def expected_file(notebook: str | Path, profile: str, folder: str | Path | None = None) -> Path:
    """``tests/expected/STEM.PROFILE.json``: the numbers a chapter must reproduce."""
    return Path(folder or EXPECTED) / f"{Path(notebook).stem}.{profile}.json"


def flat(records: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``, at any depth; timings (``seconds``) left out:
    they are measured, not reproduced, so they are never expected numbers."""
    out = {}
    for name, value in records.items():
        if isinstance(value, Mapping):
            out.update(flat(value, f"{prefix}{name}."))
        elif not str(name).endswith("seconds"):
            out[f"{prefix}{name}"] = value
    return out


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def allowed(name: str, value: float, expected: Mapping[str, Any]) -> float:
    """How far a recorded number may lie from its expected ``value``."""
    floor = {**FLOOR, **expected.get("tolerance", {})}
    drift = expected.get("drift", {}).get(name, 0.0)
    return max(floor["absolute"] + floor["relative"] * abs(value), DRIFT_FACTOR * drift)


def compare_records(
    measured: Mapping[str, Any], expected: Mapping[str, Any], chapter: str = ""
) -> list[str]:
    """Every way ``measured`` (a notebook's :func:`~noise2image.runner.recorded`) differs
    from ``expected`` (an expected file's contents), one sentence each naming the number,
    the expected and the measured value and the chapter."""
    got, want = flat(measured), expected["values"]
    seen = expected.get("words seen", {})
    problems = []
    for name, value in want.items():
        if name not in got:
            problems.append(f"{chapter}: {name} was not recorded (expected {value!r})")
            continue
        actual = got[name]
        if is_number(value) and is_number(actual):
            if math.isnan(value) and math.isnan(actual):
                continue
            limit = allowed(name, value, expected)
            if not abs(actual - value) <= limit:  # NaN against a number fails too
                problems.append(
                    f"{chapter}: {name} = {actual!r}, expected {value!r} (± {limit:.3g})"
                )
        elif actual != value and actual not in seen.get(name, ()):
            problems.append(f"{chapter}: {name} = {actual!r}, expected {value!r}")
    problems += [
        f"{chapter}: {name} is recorded but not expected" for name in got if name not in want
    ]
    return problems


class WriteRefused(RuntimeError):
    """``check --write`` would write an expectation that records nothing real."""


def _profile_of(executed: Path) -> str | None:
    """The profile an executed chapter ran with (papermill keeps the parameters)."""
    book = json.loads(executed.read_text("utf-8"))
    parameters = book.get("metadata", {}).get("papermill", {}).get("parameters", {})
    return parameters.get("profile")


def _failed(executed: Path) -> str | None:
    """The first error an executed chapter holds (papermill keeps it), else ``None``."""
    book = json.loads(executed.read_text("utf-8"))
    for cell in book.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"{output.get('ename')}: {output.get('evalue')}"
    if book.get("metadata", {}).get("papermill", {}).get("exception"):
        return "papermill recorded an exception"
    return None


def write_expected(
    executed: Path, profile: str, folder: str | Path | None = None, drift=None, seen=None
) -> Path:
    """(Re)write ``executed``'s expected file from what it recorded, keeping the file's
    measured drift unless new ``drift`` / ``seen`` words are given. Refuses a chapter
    that failed, recorded nothing, or ran under another profile."""
    if error := _failed(executed):
        raise WriteRefused(f"{executed.stem} failed ({error}): nothing written")
    ran = _profile_of(executed)
    if ran is not None and ran != profile:
        raise WriteRefused(
            f"{executed.stem} ran with profile={ran!r}, not {profile!r}: nothing written"
        )
    values = flat(recorded(executed))
    if not values:
        raise WriteRefused(f"{executed.stem} recorded no numbers: nothing written")
    path = expected_file(executed, profile, folder)
    old = json.loads(path.read_text()) if path.exists() else {}
    # a file whose drift was never measured across kernel sets keeps its own (blanket)
    # tolerance; drift observed on another machine (``observed``) or spreads that only
    # widened it (``drift --widen``) do not replace it
    measured = drift is not None or old.get("measured on", "").startswith("kernel sets")
    tolerance = FLOOR if measured else old.get("tolerance", FLOOR)
    drift = old.get("drift", {}) if drift is None else drift
    seen = old.get("words seen", {}) if seen is None else seen
    contents = {
        "tolerance": tolerance,
        "drift": {k: v for k, v in sorted(drift.items()) if k in values},
        "words seen": {k: v for k, v in sorted(seen.items()) if k in values},
        "values": values,
    }
    if "measured on" in old:
        contents["measured on"] = old["measured on"]
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, contents)
    return path


def check_records(
    folder: str | Path, profile: str, write: bool = False, expected: str | Path | None = None
) -> list[str]:
    """Compare every executed chapter in ``folder`` with its expected file; with ``write``,
    (re)write the expected files from the executed chapters instead (a deliberate change
    of a number is then a visible diff of the file). ``write`` checks every chapter first
    and writes none if one failed, recorded nothing or ran under another profile."""
    executed = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    problems = []
    if write:
        refused = []
        for path in executed:
            error, ran = _failed(path), _profile_of(path)
            if error:
                refused.append(f"{path.stem} failed ({error})")
            elif ran is not None and ran != profile:
                refused.append(f"{path.stem} ran with profile={ran!r}, not {profile!r}")
            elif not recorded(path):
                refused.append(f"{path.stem} recorded no numbers")
        if refused:
            raise WriteRefused("nothing written:\n" + "\n".join(refused))
        for path in executed:
            write_expected(path, profile, expected)
        return problems
    for path in executed:
        expected_path = expected_file(path, profile, expected)
        if not expected_path.exists():
            problems.append(f"{path.stem}: no expected numbers in {expected_path}")
        else:
            problems += compare_records(
                recorded(path), json.loads(expected_path.read_text()), path.stem
            )
        # the prose read with this run's own numbers: a sentence they contradict
        problems += prose.chapter_problems(path, flat(recorded(path)))
    return problems


_NUMBER_LINE = re.compile(
    r"^(?P<stem>\d\d_\w+): (?P<name>.+) = (?P<actual>\S+), expected (?P<want>\S+) \(± [^)]+\)$"
)
_WORD_LINE = re.compile(
    r"^(?P<stem>\d\d_\w+): (?P<name>.+?) = (?P<actual>'.*'|\".*\"), "
    r"expected (?P<want>'.*'|\".*\")$"
)


def read_observed(text: str) -> dict[str, tuple[dict[str, float], dict[str, Any]]]:
    """Per chapter, from ``check``'s printed problem lines: each number's measured value
    and each word's, on the machine that printed them. Other lines are left out."""
    import ast

    found: dict[str, tuple[dict[str, float], dict[str, Any]]] = {}
    for line in text.splitlines():
        if match := _NUMBER_LINE.match(line):
            try:
                actual = float(match["actual"])
            except ValueError:
                continue
            found.setdefault(match["stem"], ({}, {}))[0][match["name"]] = actual
        elif match := _WORD_LINE.match(line):
            word = ast.literal_eval(match["actual"])
            found.setdefault(match["stem"], ({}, {}))[1][match["name"]] = word
    return found


def _widened(stem: str, contents: dict, distances, words, note: str) -> list[str]:
    """Widen ``contents`` (an expected file's) in place: each number's drift becomes the larger
    of the old one and its distance in ``distances``, each word of ``words`` (name -> list)
    joins the words seen, ``note`` joins "measured on". One line per change."""
    values = contents["values"]
    drift, seen = contents.setdefault("drift", {}), contents.setdefault("words seen", {})
    changes = []
    for name, distance in distances.items():
        if distance > drift.get(name, 0.0):
            drift[name] = distance
            changes.append(f"{stem}: {name} drift {distance:.3g}")
    for name, variants in words.items():
        known = seen.get(name, [values[name]])
        new = [w for w in variants if w not in known and w != values[name]]
        if new:
            seen[name] = sorted({json.dumps(w): w for w in [*known, values[name], *new]}
                                .values(), key=str)  # fmt: skip
            changes += [f"{stem}: {name} also {w!r}" for w in new]
    measured = contents.get("measured on", "")
    if note not in measured:
        contents["measured on"] = f"{measured}; {note}" if measured else note
    contents["drift"] = dict(sorted(drift.items()))
    contents["words seen"] = dict(sorted(seen.items()))
    return changes


def _write(target: Path, contents: dict) -> None:
    from noise2image.checkpoints import atomic_write

    with atomic_write(target) as handle:
        handle.write((json.dumps(contents, indent=1, ensure_ascii=False) + "\n").encode())


def widen_drift(
    stem: str,
    profile: str,
    spreads: Mapping[str, float],
    words: Mapping[str, list],
    note: str,
    folder: str | Path | None = None,
) -> list[str]:
    """Widen ``stem``'s expected file by spreads measured across kernel sets on this machine
    (:func:`tools.kernels.drift`), keeping its values and tolerance: a number's drift
    becomes the larger of the old one and its spread, a word's variants join the words
    seen, ``note`` joins "measured on". Unlike ``drift --write`` it never narrows what
    another machine was seen to give. Names the file does not hold are left out. Returns
    one line per change."""
    target = expected_file(stem, profile, folder)
    if not target.exists():
        raise WriteRefused(f"{stem}: no expected file {target}: nothing written")
    contents = json.loads(target.read_text("utf-8"))
    values = contents["values"]
    changes = _widened(
        stem, contents, {n: d for n, d in spreads.items() if n in values},
        {n: w for n, w in words.items() if n in values}, note,
    )  # fmt: skip
    _write(target, contents)
    return changes


def fold_observed(path: str | Path, profile: str, folder: str | Path | None = None) -> list[str]:
    """Widen the expected files' drift by what another machine printed (``path``: lines of
    ``check``'s output). Returns one line per change. A number's drift becomes the larger
    of its old drift and its distance from the expected value; a word joins the words
    seen. Refuses names the expected file does not hold (an old or mistyped log)."""
    source = Path(path)
    found = read_observed(source.read_text("utf-8"))
    if not found:
        raise WriteRefused(f"{source} holds no problem lines of `check`: nothing written")
    changes, updated = [], {}
    for stem, (numbers, words) in sorted(found.items()):
        target = expected_file(stem, profile, folder)
        if not target.exists():
            raise WriteRefused(f"{stem}: no expected file {target}: nothing written")
        contents = json.loads(target.read_text("utf-8"))
        values = contents["values"]
        unknown = [n for n in [*numbers, *words] if n not in values]
        if unknown:
            raise WriteRefused(f"{stem}: {unknown} are not in {target}: nothing written")
        distances = {n: abs(actual - values[n]) for n, actual in numbers.items()}
        changes += _widened(
            stem, contents, distances, {n: [w] for n, w in words.items()},
            f"observed on another machine: {source.name}",
        )  # fmt: skip
        updated[target] = contents
    for target, contents in updated.items():
        _write(target, contents)
    return changes


def platform_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the platform's processor."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def machine() -> str:
    """This machine's CPU and the kernel set torch picked, for a check's first line."""
    import torch

    return f"{platform_name()}, torch kernels {torch.backends.cpu.get_cpu_capability()}"


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.expected check FOLDER --profile full [--write]``."""
    import argparse

    from noise2image.profiles import PROFILES

    parser = argparse.ArgumentParser(prog="python -m tools.expected")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="compare executed chapters with tests/expected")
    check.add_argument("folder", help="executed chapters (e.g. _build/smoke/notebooks)")
    check.add_argument("--profile", choices=PROFILES, required=True)
    check.add_argument("--write", action="store_true", help="write the expected files")
    observed = sub.add_parser(
        "observed", help="widen the drift by check's output from another machine"
    )
    observed.add_argument("log", type=Path, help="lines printed by check on that machine")
    observed.add_argument("--profile", choices=PROFILES, required=True)
    args = parser.parse_args(argv)
    if args.command == "observed":
        try:
            changes = fold_observed(args.log, args.profile)
        except (WriteRefused, OSError) as error:
            print(f"refused: {error}")
            return 2
        print("\n".join(changes))
        print(f"{len(changes)} changes written from {args.log} ({args.profile})")
        return 0
    if not list(Path(args.folder).glob("[0-9][0-9]_*.ipynb")):
        print(f"no executed chapters in {args.folder}")
        return 2
    print(f"checked on: {machine()}")
    try:
        problems = check_records(args.folder, args.profile, write=args.write)
    except WriteRefused as error:
        print(f"refused:\n{error}")
        return 2
    for problem in problems:
        print(problem)
    verb = "written" if args.write else "checked"
    print(f"expected numbers {verb} for {args.folder} ({args.profile}): {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
