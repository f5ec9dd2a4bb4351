import pytest

from noise2image import widgets
from noise2image.profiles import ParameterError


@pytest.mark.parametrize("chapter", widgets.QUIZZES)
def test_every_quiz_question_has_one_right_answer_and_feedback(chapter):
    questions = widgets.load_quiz(chapter)
    assert len(questions) >= 3
    for q in questions:
        assert q["type"] == "multiple_choice" and q["question"].strip()
        assert sum(a["correct"] for a in q["answers"]) == 1
        assert all(a["feedback"].strip() for a in q["answers"])


def test_unknown_quiz_names_the_chapters():
    with pytest.raises(ParameterError, match="01_data"):
        widgets.load_quiz("99_nothing")


def test_rating_widget_records_ratings_to_csv_and_reloads_them(tmp_path):
    import csv

    import torch

    path = tmp_path / "ratings.csv"
    rater = widgets.RatingWidget(torch.rand(4, 1, 8, 8), path, ids=["a", "b", "c", "d"])
    assert rater.share_liked() is None and rater.summary() == "0 of 4 images rated"
    rater.rate("a", True)
    rater.rate("b", False)
    rater.rate("c", True)
    rater.rate("b", True)  # a change of mind replaces the old rating
    assert rater.share_liked() == 1.0
    rater.rate("c", False)
    assert rater.share_liked() == 2 / 3
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [
        {"image_id": "a", "rating": "1"},
        {"image_id": "b", "rating": "1"},
        {"image_id": "c", "rating": "0"},
    ]
    again = widgets.RatingWidget(torch.rand(4, 1, 8, 8), path, ids=["a", "b", "c", "d"])
    assert again.summary() == "3 of 4 rated, 67% liked"
    with pytest.raises(ParameterError, match="'a', 'b'"):
        rater.rate("zzz", True)


def test_rating_widget_buttons_rate(tmp_path):
    import torch

    rater = widgets.RatingWidget(torch.rand(2, 3, 8, 8), tmp_path / "r.csv")
    grid = rater.widget.children[0]
    up, down = grid.children[0].children[1].children
    up.value = True
    assert rater.ratings == {"image-0": 1}
    down.value = True
    assert rater.ratings == {"image-0": 0} and up.value is False
    figure = rater.static_figure()
    assert [ax.get_title() for ax in figure.axes[:2]] == ["image-0", "image-1"]


def test_latent_explorer_redraws_and_static_grid_matches_it():
    import torch

    from noise2image import gan

    G = gan.Generator(gan.GANConfig(ngf=8, ndf=8))
    explorer = widgets.latent_explorer(G)
    controls, picture = explorer.children
    before = picture.value
    controls.children[1].value = 5  # another noise seed
    assert picture.value != before and picture.value[:4] == b"\x89PNG"
    grid = widgets.explorer_grid(G, 3, seeds=range(2), scales=(0.0, 1.0))
    assert set(grid) == {"noise × 0.0", "noise × 1.0"}
    zero = grid["noise × 0.0"]
    assert zero.shape == (2, 1, 28, 28) and torch.equal(zero[0], zero[1])  # no noise: same picture
    # the static grid draws exactly what the explorer draws for that digit, seed and scale
    from noise2image.generate import from_seed
    from noise2image.preprocess import denormalise

    assert torch.equal(grid["noise × 1.0"][1], denormalise(from_seed(G, 1, 3, 1.0))[0])
