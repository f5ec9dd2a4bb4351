"""The book builds, warnings as errors, from the notebooks the smoke run just executed."""

import shutil

import yaml
from conftest import build_book as build

from noise2image.runner import chapters


def test_book_builds_from_the_smoke_runs(smoke_book):
    html = smoke_book
    assert (html / "index.html").exists()
    for path in chapters():
        page = (html / "notebooks" / f"{path.stem}.html").read_text()
        assert "<img" in page, f"{path.stem} has no figures"
        assert "highlight-ipythontb" not in page, f"{path.stem} shows an error"
    # chapter 6 always trains live: its progress bars are in the page as text, readable offline
    page = (html / "notebooks" / "06_sharpening_loss.html").read_text()
    assert "baseline: 100%|" in page and "jupyter-widgets" not in page


def test_a_chapter_that_raises_fails_the_book_build(root, tmp_path):
    """`make book`'s own path: execution on (jupyter-cache), warnings as errors. A chapter
    whose cell raises must fail the build, not become a page with an error in it."""
    import nbformat

    book = tmp_path / "broken_book"
    (book / "notebooks").mkdir(parents=True)
    shutil.copytree(root / "book" / "_ext", book / "book" / "_ext")  # the config loads it
    shutil.copytree(root / "book" / "_static", book / "book" / "_static")
    (book / "book" / "intro.md").write_text("# A book\n\nOne chapter follows.\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A broken chapter"),
        nbformat.v4.new_code_cell("raise RuntimeError('this chapter is broken on purpose')"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, book / "notebooks" / "01_broken.ipynb")
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: notebooks/01_broken\n"
    )
    config = yaml.safe_load((root / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "cache"  # the book's own setting
    (book / "_config.yml").write_text(yaml.safe_dump(config))
    done = build(book)
    assert done.returncode != 0
    assert "broken on purpose" in done.stdout + done.stderr


def test_every_chapter_page_launches_its_own_notebook_in_colab_and_binder(smoke_book):
    """The launch buttons follow the one home of ``_config.yml`` (so do the install cells:
    tests/test_instructors.py), and each names the page's own notebook."""
    import re

    from tools.instructors import home

    url = home()
    org_repo = url.removeprefix("https://github.com/")
    for path in chapters():
        page = (smoke_book / "notebooks" / f"{path.stem}.html").read_text()
        links = set(re.findall(r'href="(https://[^"]+)"', page))
        notebook = f"notebooks/{path.name}"
        assert f"https://colab.research.google.com/github/{org_repo}/blob/main/{notebook}" in links
        assert f"https://mybinder.org/v2/gh/{org_repo}/main?urlpath=lab/tree/{notebook}" in links
        assert url in links, f"{path.stem}: no repository button"


def _table_rows(page: str, header: str) -> list[list[str]]:
    """The body rows (cell texts) of the page's table whose header holds ``header``."""
    import html as escapes
    import re

    for table in re.findall(r"<table.*?</table>", page, re.S):
        if header in table:
            body = table.split("<tbody>", 1)[1]
            return [
                [escapes.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in
                 re.findall(r"<td.*?>(.*?)</td>", row, re.S)]
                for row in re.findall(r"<tr.*?</tr>", body, re.S)
            ]  # fmt: skip
    raise AssertionError(f"no table with {header!r}")


def test_the_instructors_pages_show_what_the_course_files_hold(smoke_book):
    """The generated tables are in the built pages: every parameter with its default,
    every chapter's objectives, both profiles' times, every quiz's correct answers."""
    import html as escapes
    import re

    from noise2image import runner, widgets
    from tools import instructors

    running = (smoke_book / "book" / "running.html").read_text()
    shown = [row[:3] for row in _table_rows(running, "what it sets")]
    assert shown == [
        [str(int(path.name[:2])), entry["name"], entry["default"]]
        for path in chapters()
        for entry in runner.parameters(path)
    ]
    objectives = _table_rows(running, "you will learn")
    assert [row[0] for row in objectives] == [instructors.chapter_title(p) for p in chapters()]
    times = _table_rows(running, "smoke (s)")
    assert [row[1] for row in times[:-1]] == [p.stem for p in chapters()]
    answers = (smoke_book / "book" / "answers.html").read_text()
    plain = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})  # Sphinx's smart quotes
    bold = {
        escapes.unescape(re.sub(r"<[^>]+>", "", text)).translate(plain)
        for text in re.findall(r"<strong>(.*?)</strong>", answers, re.S)
    }
    for path in chapters():
        for question in widgets.load_quiz(path.stem):
            for answer in question["answers"]:
                assert (str(answer["answer"]) in bold) == bool(answer.get("correct")), answer
