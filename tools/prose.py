"""A chapter's prose, read with the numbers one run recorded: does a sentence contradict
the numbers glued into it?

The chapters glue every number and every verdict word from the cell that computes it, so
a sentence can only go wrong where a *fixed* word meets a glued number: "the strokes
thicken from 3.12 to 2.91 px", "In its 1 steps", "100.0 % of the time instead of
100.0 %", or a claims row labelled "held" whose own interval says otherwise. This module
renders each markdown cell of a chapter with a run's values (``{glue:text}`name:fmt```
filled in as jupyter-book fills it) and looks for those:

* **claims rows** (recorded with :data:`noise2image.claims.RECORDED`): decided again from
  their own numbers by :func:`noise2image.claims.recheck`;
* **direction words** with a "from X to Y" or an "X → Y": a rise told as a fall or the
  other way round;
* **"X instead of X"**: a comparison between two equal numbers;
* **"1 steps"**: a count of one with a plural noun.

``python -m tools.expected check`` runs it on every executed chapter (the full book's and
the smoke runs'); the tests run it on the expected values of both profiles.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from noise2image import claims

GLUE = re.compile(r"\{glue:text\}`(?P<name>[^`:]+)(?::(?P<spec>[^`]*))?`")
NUMBER = r"([+-−]?\d+(?:\.\d+)?)"
UP = (
    r"(?:rises?|raises?|rose|increases?|increased|grows?|grew|thickens?|thickened|gains?|"
    r"climbs?|goes up|went up)"
)
DOWN = (
    r"(?:falls?|fell|drops?|dropped|lowers?|lowered|decreases?|decreased|thins?|thinned|"
    r"shrinks?|shrank|removes?|cuts?|halves|goes down|went down)"
)
PLURALS = (
    "steps|prompts|seeds|pictures|words|rows|epochs|digits|negatives|claims|pairs|runs|"
    "samples|points|minutes|seconds|times|scales|prompts"
)


def render(markdown: str, values: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``markdown`` with every glued value filled in as the book shows it, and the names
    of glued values that ``values`` lacks (the page would show them empty)."""
    missing = []

    def fill(match: re.Match) -> str:
        name, spec = match["name"], match["spec"] or ""
        if name not in values:
            missing.append(name)
            return "?"
        value = values[name]
        try:
            return format(value, spec)
        except (TypeError, ValueError):
            return str(value)

    return GLUE.sub(fill, markdown), missing


def _number(text: str) -> float:
    return float(text.replace("−", "-"))


def sentence_problems(text: str) -> list[str]:
    """The contradictions a rendered text holds, each with the words that hold it."""
    problems = []
    spans = [
        (UP, rf"\bfrom {NUMBER}\s*(?:%|px)? to {NUMBER}", lambda a, b: b > a, "a rise"),
        (DOWN, rf"\bfrom {NUMBER}\s*(?:%|px)? to {NUMBER}", lambda a, b: b < a, "a fall"),
        (UP, rf"{NUMBER}\s*(?:%|px)?\s*→\s*{NUMBER}", lambda a, b: b > a, "a rise"),
        (DOWN, rf"{NUMBER}\s*(?:%|px)?\s*→\s*{NUMBER}", lambda a, b: b < a, "a fall"),
    ]
    for sentence in re.split(r"(?<=[.;!?])\s+|\n\n", text):
        flat = " ".join(sentence.split())
        for verb, numbers, holds, told in spans:
            # the direction word and the first pair of numbers after it, within the sentence;
            # "does not rise (3.25 -> 2.90)" is true: a negated word asks the opposite, and
            # "is not shown to lower (0.38 -> 0.38)" claims neither (the counts cannot tell)
            pattern = (
                rf"(?P<hedge>\bnot shown to\s+)?(?P<no>\b(?:not|never|no longer|n't)\s+)?"
                rf"\b{verb}\b[^.;]{{0,80}}?{numbers}"
            )
            match = re.search(pattern, flat, re.IGNORECASE)
            if not match or match["hedge"]:
                continue
            a, b = (_number(g) for g in match.groups()[-2:])  # the pair of numbers
            if match["no"] and holds(a, b):
                problems.append(f"denies {told} that its numbers show: {match[0]!r}")
            elif not match["no"] and not holds(a, b):
                problems.append(f"tells {told} that its numbers do not show: {match[0]!r}")
        for match in re.finditer(rf"{NUMBER}\s*(%|px)?[^.;]{{0,40}}? instead of {NUMBER}", flat):
            if _number(match[1]) == _number(match[3]):
                problems.append(f"compares two equal numbers: {match[0]!r}")
        for match in re.finditer(rf"(?<![\d.,])1 ({PLURALS})\b", flat):
            problems.append(f"a count of one with a plural noun: {match[0]!r}")
        for match in re.finditer(r"\b(\w{3,}) \1s\b", flat):  # a glued "1 step" + "steps"
            problems.append(f"a noun twice: {match[0]!r}")
    return problems


def claims_problems(values: Mapping[str, Any]) -> list[str]:
    """Every recorded claims row (``GROUP.CLAIM.verdict`` with its rule's numbers beside
    it) decided again from its own numbers."""
    rows: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        for key in claims.RECORDED:
            if name.endswith("." + key):
                rows.setdefault(name[: -len(key) - 1], {})[key] = value
    problems = []
    for claim, row in rows.items():
        if "verdict" not in row or "rule" not in row:
            continue
        if problem := claims.recheck(row):
            problems.append(f"claims row {claim!r}: {problem}")
    return problems


def chapter_problems(notebook: str | Path, values: Mapping[str, Any]) -> list[str]:
    """Everything above, for one chapter (its source notebook) read with ``values`` (a
    run's records, flattened as the expected files hold them)."""
    book = json.loads(Path(notebook).read_text("utf-8"))
    stem = Path(notebook).stem
    problems = [f"{stem}: {p}" for p in claims_problems(values)]
    for index, cell in enumerate(book["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text, missing = render("".join(cell["source"]), values)
        problems += [f"{stem}, cell {index}: glued {name!r} was not recorded" for name in missing]
        problems += [f"{stem}, cell {index}: {p}" for p in sentence_problems(text)]
    return problems
