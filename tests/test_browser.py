"""The built book as a reader's browser shows it: Debian's chromium, driven by Playwright.

Every page of the book built from the smoke runs is opened in a 1280 × 900 window: no
console errors, every image loaded with alt text that says what it shows, no output that
scrolls sideways, the title and first paragraph on the first screen; every chapter's quiz
answers a click, its exercise solution opens, the search finds it. A full-page screenshot
of every chapter is kept in ``_build/screenshots/``. Each check is also run on a copy of a
page broken on purpose, so that a check that cannot fail would show.

``make test`` installs chromium (``apt-get install chromium``) when it may (as root);
elsewhere these tests are skipped with the command to install it, except under ``CI``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pages
import pytest

from noise2image.runner import chapters

SCREENSHOTS = Path(__file__).resolve().parents[1] / "_build" / "screenshots"
CHAPTERS = [path.stem for path in chapters()]

def _prose_pages() -> list[str]:
    """Every page of ``_toc.yml`` that is not a chapter (the root, the book/ pages)."""
    import yaml

    toc = yaml.safe_load((SCREENSHOTS.parents[1] / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [name for name in files if name.startswith("book/")]


PROSE = _prose_pages()


def chromium_path() -> str | None:
    return os.environ.get("NOISE2IMAGE_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the pinned set has it
        sync_playwright = None
    if path is None or sync_playwright is None:
        message = (
            "no chromium (or no playwright): install Debian's chromium (`sudo apt-get install "
            "chromium`; `make test` does it itself as root) or set NOISE2IMAGE_CHROMIUM to a "
            "chromium binary, and `pip install playwright` (never `playwright install`)"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " - CI must run the browser tests")
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


def page_file(html: Path, name: str) -> Path:
    return (
        html / f"{name}.html"
        if "/" in name or name == "index"
        else html / "notebooks" / f"{name}.html"
    )


# --------------------------------------------------------------------------- the whole book


@pytest.mark.parametrize("name", PROSE + CHAPTERS)
def test_page_reads_well(browser, smoke_book, name):
    page = pages.open_page(browser, page_file(smoke_book, name))
    problems = (
        pages.console_errors(page)
        + pages.image_problems(page)
        + pages.sideways_scrolling(page)
        + pages.machine_paths(page)
        + pages.first_screen_problems(page)
    )
    if name in CHAPTERS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    page.close()
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_quiz_solution_and_search(browser, smoke_book, name):
    page = pages.open_page(browser, page_file(smoke_book, name))
    word = pages.title_word(page)
    problems = pages.quiz_problems(page) + pages.solution_problems(page) + page.errors
    page.close()
    problems += pages.search_finds(browser, smoke_book, word, name)
    assert not problems, f"{name}:\n" + "\n".join(problems)


# --------------------------------------------------------------- each check can fail


@pytest.fixture(scope="module")
def broken(smoke_book, tmp_path_factory):
    """Write a broken copy of chapter 8's page beside it (so its assets still resolve)."""
    original = (smoke_book / "notebooks" / "08_negative_prompts.html").read_text()
    written = []

    def write(name: str, html: str) -> Path:
        assert html != original, "the page was not changed"
        path = smoke_book / "notebooks" / f"broken-{name}.html"
        path.write_text(html)
        written.append(path)
        return path

    yield original, write
    for path in written:
        path.unlink()


def test_the_unbroken_copy_passes(browser, broken):
    original, write = broken
    page = pages.open_page(browser, write("none", original + "\n"))
    assert pages.console_errors(page) + pages.image_problems(page) == []
    assert pages.sideways_scrolling(page) + pages.first_screen_problems(page) == []
    assert pages.machine_paths(page) == []
    assert pages.quiz_problems(page) + pages.solution_problems(page) == []


def test_a_script_error_is_caught(browser, broken):
    original, write = broken
    html = original.replace("</body>", "<script>undefinedFunction();</script></body>")
    page = pages.open_page(browser, write("script", html))
    assert any("undefinedFunction" in p for p in pages.console_errors(page))


def test_an_external_script_is_caught(browser, broken):
    original, write = broken
    html = original.replace(
        "</head>", '<script src="https://cdn.example.org/x.js"></script></head>'
    )
    page = pages.open_page(browser, write("external", html))
    assert pages.console_errors(page)


def test_a_removed_image_is_caught(browser, broken, smoke_book):
    original, write = broken
    src = re.search(r'<img[^>]*src="(\.\./_images/[^"]+)"', original).group(1)
    html = original.replace(src, src.replace(".png", "-removed.png"), 1)
    page = pages.open_page(browser, write("image", html))
    assert any("did not load" in p for p in pages.image_problems(page))


def test_a_file_name_as_alt_text_is_caught(browser, broken):
    original, write = broken
    figure = r'<img alt="[^"]*" src="(\.\./_images/[^"]+)"'  # a figure of the article
    html = re.sub(figure, r'<img alt="\1" src="\1"', original, count=1)
    page = pages.open_page(browser, write("alt", html))
    assert any("alt text" in p for p in pages.image_problems(page))


def test_a_long_output_line_is_caught(browser, broken):
    original, write = broken
    line = "clarity 80.1 FID 1.23 " * 20
    html = original.replace(
        '<div class="cell_output docutils container">',
        f'<div class="cell_output docutils container"><div class="output stream highlight-myst-ansi'
        f' notranslate"><div class="highlight"><pre><span></span>{line}</pre></div></div>',
        1,
    )
    page = pages.open_page(browser, write("long", html))
    assert pages.sideways_scrolling(page)


def test_a_machine_path_in_an_output_is_caught(browser, broken):
    original, write = broken
    line = "loaded the trained GAN from /root/.cache/noise2image/gan/digits.pt"
    html = original.replace(
        '<div class="cell_output docutils container">',
        f'<div class="cell_output docutils container"><div class="output stream"><pre>{line}'
        "</pre></div>",
        1,
    )
    page = pages.open_page(browser, write("path", html))
    assert pages.machine_paths(page)


def test_code_before_the_first_paragraph_is_caught(browser, broken):
    original, write = broken
    lines = "".join(f"setting_{i} = {i}\n" for i in range(30))
    code = (
        '<div class="cell docutils container"><div class="cell_input docutils container">'
        '<div class="highlight-ipython3 notranslate"><div class="highlight">'
        f"<pre>{lines}</pre></div></div></div></div>"
    )
    heading_end = original.index("</h1>", original.index("<article")) + len("</h1>")
    page = pages.open_page(
        browser, write("code", original[:heading_end] + code + original[heading_end:])
    )
    assert pages.first_screen_problems(page)


def test_a_broken_quiz_script_is_caught(browser, broken):
    original, write = broken
    quiz = original.index("show_quiz")
    script = original.index('<script type="application/javascript">', quiz)
    start = script + len('<script type="application/javascript">')
    html = original[:start] + 'throw new Error("the quiz is broken");' + original[start:]
    page = pages.open_page(browser, write("quiz", html))
    assert pages.quiz_problems(page)


def test_a_solution_that_does_not_open_is_caught(browser, broken):
    original, write = broken
    html = original.replace("togglebutton.js", "togglebutton-missing.js")
    page = pages.open_page(browser, write("solution", html))
    assert pages.solution_problems(page)


def test_a_word_the_search_does_not_know_is_caught(browser, smoke_book):
    assert pages.search_finds(browser, smoke_book, "xylophonequark", "08_negative_prompts")
