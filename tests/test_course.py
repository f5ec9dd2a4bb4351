"""The course map: the pipeline table."""

from noise2image import course


def test_pipeline_table_lists_the_eight_stages():
    table = course.pipeline_table()
    assert len(table) == 8 and list(table["chapter"]) == [str(i) for i in range(1, 9)]
