"""What the instructors' pages show, read from the course's own files at build time.

The book's local extension (``book/_ext/course_pages.py``) turns each function here into a
directive, so the page ``book/running.md`` cannot drift from the notebooks:

* :func:`parameter_table` -- every chapter's ``parameters`` cell (papermill's
  ``inspect_notebook``: name, default, the comment after it);
* :func:`objectives_table` -- each chapter's **You will learn** / **You need** paragraph;
* :func:`times_table` -- the smoke / full run times of ``benchmarks/results.md``;
* :func:`quiz_key` -- the quizzes' correct answers with their feedback (``book/answers.md``).

The course's home (its repository) is set once, in ``_config.yml``: :func:`home` reads it,
:func:`install_line` is the line every chapter's install cell must hold, and
``python -m tools.instructors sync-home`` rewrites the install cells after the URL
changed there (a fork, say).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from noise2image.runner import chapters, parameters

from . import ROOT

__all__ = [
    "home",
    "install_line",
    "install_cells",
    "sync_home",
    "chapter_title",
    "parameter_table",
    "objectives",
    "objectives_table",
    "read_times",
    "times_table",
    "quiz_key",
]

_INSTALL = re.compile(r'noise2image @ git\+([^"\s\\]+)')


def home(config: str | Path | None = None) -> str:
    """The course repository's URL: ``repository.url`` of ``_config.yml``."""
    import yaml

    path = Path(config) if config else ROOT / "_config.yml"
    url = (yaml.safe_load(path.read_text("utf-8")).get("repository") or {}).get("url")
    if not url:
        raise ValueError(f"{path.name} sets no repository.url (the course's home)")
    return url.rstrip("/")


def install_line(url: str) -> str:
    """The install cell's pip line for the course at ``url`` (Colab installs it so)."""
    return f'%pip install --quiet "noise2image @ git+{url}"'


def _cells(notebook: str | Path) -> list[dict]:
    return json.loads(Path(notebook).read_text("utf-8"))["cells"]


def _source(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def install_cells(notebook: str | Path) -> list[str]:
    """The repository URLs a notebook's cells install the course from, in order."""
    return [url for cell in _cells(notebook) for url in _INSTALL.findall(_source(cell))]


def sync_home(notebooks: Sequence[str | Path], url: str) -> list[Path]:
    """Point every install line of ``notebooks`` at ``url``; returns the files changed.

    A textual replacement, so the rest of each file (and its diff) stays as it was."""
    changed = []
    for notebook in map(Path, notebooks):
        text = notebook.read_text("utf-8")
        new = _INSTALL.sub(lambda _: f"noise2image @ git+{url}", text)
        if new != text:
            notebook.write_text(new, "utf-8")
            changed.append(notebook)
    return changed


def chapter_title(notebook: str | Path) -> str:
    """The chapter's title: the first heading of its first cell (``1. Collecting images``)."""
    for line in _source(_cells(notebook)[0]).splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    raise ValueError(f"{Path(notebook).name} does not start with a '# title' heading")


def _escape(text: str) -> str:
    """Plain text for a Markdown page: no character of it starts markup."""
    return re.sub(r"([\\`*_\[\]<>|$#~])", r"\\\1", text)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _number(notebook: str | Path) -> str:
    return str(int(Path(notebook).name[:2]))


def parameter_table(notebooks: Sequence[str | Path]) -> str:
    """One Markdown table of every chapter's parameters: chapter, name, default, meaning."""
    rows = [
        (_number(notebook), f"`{entry['name']}`", f"`{entry['default']}`", _escape(entry["help"]))
        for notebook in notebooks
        for entry in parameters(notebook)
    ]
    return _table(("chapter", "parameter", "default", "what it sets"), rows)


def objectives(notebook: str | Path) -> dict[str, str]:
    """A chapter's **You will learn** and **You need** sentences (its first cell)."""
    text = _source(_cells(notebook)[0])
    found = {}
    for key, label in (("learn", "You will learn"), ("need", "You need")):
        match = re.search(rf"\*\*{label}\*\*\s+(.+?)(?=\n\s*\n|\n\*\*|\n```|\Z)", text, re.S)
        if not match:
            raise ValueError(f"{Path(notebook).name} has no '**{label}**' sentence")
        found[key] = " ".join(match.group(1).split())
    return found


def objectives_table(notebooks: Sequence[str | Path], link: str = "../notebooks/") -> str:
    """One Markdown table: each chapter (linked), what it teaches and what it needs."""
    rows = []
    for notebook in notebooks:
        said = objectives(notebook)
        title = f"[{chapter_title(notebook)}]({link}{Path(notebook).name})"
        rows.append((title, said["learn"], said["need"]))
    return _table(("chapter", "you will learn", "you need"), rows)


def read_times(results: str | Path) -> list[tuple[str, str, float, float]]:
    """The rows of ``benchmarks/results.md`` (written by ``benchmarks/time_notebooks.py``):
    ``(chapter, profile, seconds, peak MiB)``; none when the file does not exist."""
    path = Path(results)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text("utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1] in ("smoke", "full"):
            rows.append((cells[0], cells[1], float(cells[2]), float(cells[3])))
    return rows


def times_table(results: str | Path) -> str:
    """``benchmarks/results.md`` as one row per chapter (seconds under ``smoke`` and
    ``full``, the larger peak memory), the book's total, and the sentence that says where
    and how it was measured."""
    runs: dict[str, dict[str, tuple[float, float]]] = {}
    for chapter, profile, seconds, memory in read_times(results):
        runs.setdefault(chapter, {})[profile] = (seconds, memory)
    if not runs:
        raise ValueError(f"{Path(results).name} holds no '| chapter | profile | s | MiB |' rows")

    def seconds(by_profile, profile):
        return f"{by_profile[profile][0]:.1f}" if profile in by_profile else "–"

    rows = [
        (
            str(int(chapter[:2])),
            f"`{chapter}`",
            seconds(by_profile, "smoke"),
            seconds(by_profile, "full"),
            f"{max(memory for _, memory in by_profile.values()):.0f}",
        )
        for chapter, by_profile in runs.items()
    ]
    totals = []
    for profile in ("smoke", "full"):
        measured = [r[profile][0] for r in runs.values() if profile in r]
        totals.append(f"{sum(measured):.0f}" if len(measured) == len(runs) else "–")
    rows.append(("all", "", *totals, ""))
    text = Path(results).read_text("utf-8").splitlines()
    said = next((line for line in text if line.startswith("Measured")), "")
    table = _table(("chapter", "notebook", "smoke (s)", "full (s)", "peak memory (MiB)"), rows)
    return f"{said}\n\n{table}" if said else table


def quiz_key(notebooks: Sequence[str | Path]) -> str:
    """Every chapter's quiz with its correct answers (and the feedback a learner sees), as
    Markdown: one section per chapter, read from the quiz files the chapters show."""
    from noise2image.widgets import load_quiz

    parts = []
    for notebook in notebooks:
        stem = Path(notebook).stem
        lines = [f"## {_escape(chapter_title(notebook))}", ""]
        for number, question in enumerate(load_quiz(stem), 1):
            lines.append(f"{number}. {_escape(question['question'])}")
            for answer in question["answers"]:
                if answer.get("correct"):
                    feedback = answer.get("feedback", "")
                    lines.append(f"   - **{_escape(str(answer['answer']))}** — {_escape(feedback)}")
            lines.append("")
        parts.append("\n".join(lines))
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.instructors sync-home``: install cells follow ``_config.yml``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.instructors")
    parser.add_argument("command", choices=["sync-home"])
    parser.parse_args(argv)
    url = home()
    changed = sync_home(chapters(ROOT / "notebooks"), url)
    print(f"install cells point at {url}: {len(changed)} notebook(s) changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
