"""Interactive pieces of the chapters: quizzes (and, later, rating and explorer widgets).

Every widget here also has a static form, because a rendered book shows no live widget.
"""

from __future__ import annotations

import json
from importlib import resources

from .profiles import check_choice

__all__ = ["QUIZZES", "load_quiz", "show_quiz"]

QUIZZES = tuple(
    sorted(
        p.name.removesuffix(".json")
        for p in (resources.files(__package__) / "quizzes").iterdir()
        if p.name.endswith(".json")
    )
)


def load_quiz(chapter: str) -> list[dict]:
    """The questions of a chapter's quiz, in jupyterquiz's format."""
    check_choice("chapter", chapter, QUIZZES)
    text = (resources.files(__package__) / "quizzes" / f"{chapter}.json").read_text("utf-8")
    return json.loads(text)


def show_quiz(chapter: str) -> None:
    """Display a chapter's quiz with jupyterquiz (works in Jupyter, Colab and the book)."""
    from jupyterquiz import display_quiz

    display_quiz(load_quiz(chapter))
