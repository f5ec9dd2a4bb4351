"""What a reader's browser sees on a page of the built book: the checks the browser tests make.

Each check takes a Playwright page that shows one book page and returns its problems, one
sentence each (an empty list: the page passes). The tests run them on every page of the book
built from the smoke runs, and each one on a copy of a page broken on purpose, to show that
the check can fail.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

VIEWPORT = {"width": 1280, "height": 900}  # the window the column width (688 px) is measured in


def open_page(browser, path: Path):
    """A new tab showing ``path`` with its console errors collected in ``page.errors``.

    Requests that leave the machine are cut at once, so a page that needs the network (a
    script from a CDN) shows it as an error, here and on any reader's machine offline."""
    page = browser.new_page(viewport=VIEWPORT)
    page.errors = []

    def on_console(message):
        if message.type == "error":
            url = (message.location or {}).get("url", "")
            page.errors.append(f"console error: {message.text} ({url or 'page script'})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: page.errors.append(f"script error: {error}"))
    page.route(
        re.compile(r"^https?://"),
        lambda route: route.abort("internetdisconnected"),
    )
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # the theme's and the quiz's scripts run after "load"
    return page


def console_errors(page) -> list[str]:
    """Errors the page's scripts wrote to the console, or requests that failed."""
    return list(page.errors)


def image_problems(page) -> list[str]:
    """Every figure in the article loaded, and its alt text says what it shows."""
    images = page.evaluate(
        """() => [...document.querySelectorAll('article img')].map(i => ({
            src: i.getAttribute('src') || '', alt: i.getAttribute('alt') || '',
            loaded: i.complete && i.naturalWidth > 0}))"""
    )
    problems = []
    for image in images:
        name = image["src"].rsplit("/", 1)[-1]
        if not image["loaded"]:
            problems.append(f"image {name} did not load")
        alt = image["alt"].strip()
        if len(alt) < 12 or re.search(r"\.(png|jpe?g|gif|svg)\b|_images/|/", alt):
            problems.append(f"image {name} has no descriptive alt text (alt={alt!r})")
    return problems


def sideways_scrolling(page) -> list[str]:
    """No cell output is wider than its box (so it would scroll sideways or spill over)."""
    wide = page.evaluate(
        """() => {
          const found = [], reported = [];  // the outermost wide element of each output
          const column = document.querySelector('article').getBoundingClientRect();
          document.querySelectorAll('div.cell_output, div.cell_output *').forEach(e => {
            const box = e.getBoundingClientRect();
            if (box.width === 0) return;  // hidden (a closed dropdown)
            const scrolls = e.scrollWidth > e.clientWidth + 1 &&
                ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
            const spills = box.right > column.right + 1;
            if ((scrolls || spills) && !reported.some(r => r.contains(e))) reported.push(e),
              found.push(
                [e.tagName.toLowerCase(), Math.max(e.scrollWidth, box.width), e.clientWidth,
                 (e.innerText || '').trim().split('\\n')[0].slice(0, 60)]);
          });
          return found;
        }"""
    )
    return [
        f"a {tag} in an output is {width:.0f} px wide in a {box} px box: {text!r}"
        for tag, width, box, text in wide
    ]


def machine_paths(page) -> list[str]:
    """No output names a folder of the machine that built the book (a cache, a home)."""
    text = page.evaluate(
        "() => [...document.querySelectorAll('div.cell_output')].map(e => e.innerText).join('\\n')"
    )
    found = re.findall(r"(?:/root|/home/\w+|/Users/\w+|/tmp/\w+|[A-Z]:\\\\Users)[^\s'\")]*", text)
    return [f"an output shows a path of the machine that built the book: {path}" for path in found]


def first_screen_problems(page) -> list[str]:
    """The first screen shows the chapter's title and its first paragraph, not code."""
    found = page.evaluate(
        """() => {
          const h1 = document.querySelector('article h1');
          const p = document.querySelector('article section p');
          const code = [...document.querySelectorAll('article div.cell div.cell_input,' +
                                                     'article div.highlight')]
              .filter(e => e.getBoundingClientRect().height > 0)[0];
          const box = e => e ? e.getBoundingClientRect().toJSON() : null;
          return {h1: box(h1), p: box(p), code: box(code), height: window.innerHeight};
        }"""
    )
    problems = []
    if found["h1"] is None or found["h1"]["bottom"] > found["height"]:
        problems.append("the title is not on the first screen")
    if found["p"] is None or found["p"]["bottom"] > found["height"]:
        problems.append("the first paragraph is not (entirely) on the first screen")
    elif found["code"] is not None and found["code"]["top"] < found["p"]["bottom"]:
        problems.append("code comes before the first paragraph")
    return problems


def quiz_problems(page) -> list[str]:
    """The quiz is drawn, and clicking an answer gives feedback."""
    answers = page.locator(".Quiz .MCButton")
    if answers.count() == 0:
        return ["no quiz was drawn (no answer buttons)"]
    quiz = page.locator(".Quiz").first
    quiz.scroll_into_view_if_needed()
    quiz.locator(".MCButton").first.click()
    page.wait_for_timeout(200)
    feedback = quiz.locator(".Feedback").first.inner_text().strip()
    return [] if feedback else ["clicking a quiz answer gave no feedback"]


def solution_problems(page) -> list[str]:
    """An exercise's solution is closed, and opens when its button is clicked."""
    solutions = page.locator("div.solution.dropdown")
    if solutions.count() == 0:
        return ["no exercise solution in a dropdown"]
    solution = solutions.first
    body = solution.locator("section").first
    if body.is_visible():
        return ["the solution is open before it is clicked"]
    solution.scroll_into_view_if_needed()
    solution.locator("button.toggle-button").first.click()
    page.wait_for_timeout(400)
    return [] if body.is_visible() else ["the solution did not open when clicked"]


def search_finds(browser, html: Path, word: str, page_name: str) -> list[str]:
    """The book's search page lists ``page_name`` among its results for ``word``."""
    page = open_page(browser, html / "search.html")
    page.goto(f"{(html / 'search.html').resolve().as_uri()}?q={word}")
    try:
        page.wait_for_selector("#search-results li", timeout=10_000)
    except Exception:
        return [f"searching {word!r} found nothing"] + page.errors
    hrefs = page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.href)")
    page.close()
    found = {Path(urlparse(h).path).stem for h in hrefs}
    return [] if page_name in found else [f"searching {word!r} did not find {page_name}"]


def title_word(page) -> str:
    """The longest word of the page's title (a word the search must find)."""
    title = page.locator("article h1").first.inner_text()
    return max(re.findall(r"[A-Za-z]{4,}", title), key=len)
