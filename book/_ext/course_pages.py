"""A local Sphinx extension for the course's pages (loaded from ``_config.yml``).

Generated tables. The instructors' pages are written from the course's own files at build
time, so they cannot drift from them (the repository's :mod:`tools.instructors` makes the
Markdown):

* ``{chapter-parameters}`` -- every chapter's ``parameters`` cell (papermill);
* ``{chapter-objectives}`` -- each chapter's "You will learn" / "You need";
* ``{chapter-times}`` -- the measured smoke / full times of ``benchmarks/results.md``;
* ``{quiz-key}`` -- the quizzes' correct answers, one section per chapter.

Each notes the files it read, so Sphinx re-reads the page when a notebook, a quiz or the
benchmark file changes, with no edit to the page.

Repeated scripts. sphinx-thebe 0.3.1 adds its configuration script a second time under
Sphinx 7, so each page declared ``const THEBE_JS_URL`` twice: a script error in every
reader's browser console. This drops repeated scripts from every page before it is written.
"""

import sys
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


def _instructors():
    """The repository's :mod:`tools.instructors` (never in the wheel), imported when a page
    uses one of the directives below -- a book without those pages builds without ``tools/``.

    Its folder is searched upwards, not a fixed number of levels: the tests build a copy of
    the book inside ``_build/``, two levels further down than the repository's own ``book/``."""
    here = Path(__file__).resolve()
    for folder in here.parents:
        if (folder / "tools" / "instructors.py").is_file():
            if str(folder) not in sys.path:
                sys.path.insert(0, str(folder))
            from tools import instructors

            return instructors
    raise RuntimeError(
        f"no tools/instructors.py in any folder above {here}: the instructors' pages are "
        "built from a clone of the course's repository"
    )


class _Generated(SphinxDirective):
    """Parse the Markdown that :meth:`make` returns in place of the directive."""

    has_content = False
    titles = False  # whether the Markdown may hold headings (sections)

    def chapters(self):
        from noise2image.runner import chapters

        return chapters(Path(self.env.srcdir) / "notebooks")

    def make(self):  # -> (markdown, files read)
        raise NotImplementedError

    def run(self):
        text, read = self.make()
        for path in read:
            self.env.note_dependency(str(Path(path).resolve()))
        holder = nodes.container()
        self.state.nested_parse(StringList(text.splitlines()), 0, holder, match_titles=self.titles)
        return holder.children


class ChapterParameters(_Generated):
    def make(self):
        instructors = _instructors()

        notebooks = self.chapters()
        return instructors.parameter_table(notebooks), notebooks


class ChapterObjectives(_Generated):
    def make(self):
        instructors = _instructors()

        notebooks = self.chapters()
        return instructors.objectives_table(notebooks), notebooks


class ChapterTimes(_Generated):
    def make(self):
        instructors = _instructors()

        results = Path(self.env.srcdir) / "benchmarks" / "results.md"
        return instructors.times_table(results), [results]


class QuizKey(_Generated):
    titles = True

    def make(self):
        from noise2image import widgets

        instructors = _instructors()

        notebooks = self.chapters()
        quizzes = [widgets.quiz_file(path.stem) for path in notebooks]
        return instructors.quiz_key(notebooks), [*notebooks, *quizzes]


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        key = (getattr(script, "filename", script) or "", str(getattr(script, "attributes", "")))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.add_directive("chapter-parameters", ChapterParameters)
    app.add_directive("chapter-objectives", ChapterObjectives)
    app.add_directive("chapter-times", ChapterTimes)
    app.add_directive("quiz-key", QuizKey)
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
