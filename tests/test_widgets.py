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
