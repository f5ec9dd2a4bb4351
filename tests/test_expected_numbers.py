"""Every chapter's recorded numbers (the ones its prose reads, glued) reproduce the expected
values kept in ``tests/expected``: a changed number fails here, named with its chapter.

The smoke runs are made by ``make test`` before pytest; ``.ci/run`` checks the ``full``
book's numbers the same way with ``python -m noise2image.runner check``. To change an
expected number on purpose, re-run and write the files
(``python -m noise2image.runner check _build/smoke/notebooks --profile smoke --write``):
the change is then a visible diff of the file.
"""

import json

import pytest

from noise2image import runner

SMOKE = runner.ROOT / "_build" / "smoke" / "notebooks"


@pytest.mark.parametrize("chapter", runner.chapters(), ids=lambda p: p.stem)
def test_smoke_run_reproduces_the_expected_numbers(chapter):
    executed = SMOKE / chapter.name
    assert executed.exists(), "run `make test` (it executes every chapter under smoke first)"
    expected = runner.expected_file(chapter, "smoke")
    assert expected.exists(), f"no expected numbers for {chapter.stem}: write them (see above)"
    problems = runner.compare_records(
        runner.recorded(executed), json.loads(expected.read_text()), chapter.stem
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_every_chapter_has_expected_numbers_for_both_profiles(profile):
    for chapter in runner.chapters():
        path = runner.expected_file(chapter, profile)
        assert path.exists(), path
        values = json.loads(path.read_text())["values"]
        assert len(values) >= 3, f"{path} holds fewer than 3 numbers"
