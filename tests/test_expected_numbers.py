"""Every chapter's recorded numbers (the ones its prose reads, glued) reproduce the expected
values kept in ``tests/expected``: a changed number fails here, named with its chapter.

``make test`` executes every chapter under smoke before pytest, under this CPU's kernels
and again under an emulated other CPU's (:mod:`tools.kernels`); ``.ci/run`` checks the
``full`` book's numbers the same way (``python -m tools.expected check``). A number may
move by three times the drift measured across CPU kernel sets where its file records one
(``python -m tools.kernels drift --write``). To change an expected number on purpose,
re-run and write the files
(``python -m tools.expected check _build/smoke/notebooks --profile smoke --write``).
"""

import json

import pytest

from noise2image import records, runner
from tools import ROOT, expected, kernels

SMOKE = ROOT / "_build" / "smoke" / "notebooks"
CHAPTERS = runner.chapters(ROOT / "notebooks")


def check(executed, chapter):
    assert executed.exists(), "run `make test` (it executes every chapter under smoke first)"
    path = expected.expected_file(chapter, "smoke")
    assert path.exists(), f"no expected numbers for {chapter.stem}: write them (see above)"
    problems = expected.compare_records(
        records.recorded(executed), json.loads(path.read_text()), chapter.stem
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_smoke_run_reproduces_the_expected_numbers(chapter):
    check(SMOKE / chapter.name, chapter)


OTHER = ROOT / "_build" / "kernels" / "other-smoke"  # make test's run under other kernels


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_smoke_run_under_another_cpus_kernels_reproduces_the_expected_numbers(chapter):
    """The second CPU: ``make test`` runs the smoke chapters again under the emulated
    kernel set farthest from this CPU's own (``python -m tools.kernels other``)."""
    assert (OTHER / "kernel-set.txt").exists(), (
        "run `make test` (it runs the smoke chapters under another kernel set too)"
    )
    used = (OTHER / "kernel-set.txt").read_text().strip()
    assert used != "native" and used in kernels.KERNEL_SETS, used
    check(OTHER / "notebooks" / chapter.name, chapter)


@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_every_chapter_has_expected_numbers_for_both_profiles(profile):
    for chapter in CHAPTERS:
        path = expected.expected_file(chapter, profile)
        assert path.exists(), path
        contents = json.loads(path.read_text())
        assert len(contents["values"]) >= 3, f"{path} holds fewer than 3 numbers"

    if profile == "smoke":  # full: not measured yet (about an hour per kernel set)
        for chapter in CHAPTERS:
            contents = json.loads(expected.expected_file(chapter, profile).read_text())
            assert "kernel sets" in contents.get("measured on", ""), (
                f"{chapter.stem}: no drift measured across kernel sets "
                f"(python -m tools.kernels drift --profile {profile} --write)"
            )
