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
