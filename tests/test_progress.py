"""Progress bars: redrawn in place in a notebook, with the final line kept in the stored file."""

import nbformat
from nbclient import NotebookClient

from noise2image import progress

BAR = """
import time
from noise2image.progress import progress_bar
bar = progress_bar(total=6, desc="demo")
for _ in range(6):
    time.sleep(0.3)
    bar.update(1)
bar.close()
"""


def _execute(source: str, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb.cells[0].outputs


def test_an_executed_notebook_keeps_the_final_bar_as_text(tmp_path):
    outputs = _execute(BAR, tmp_path)
    assert len(outputs) == 1, "one output, redrawn in place"
    (output,) = outputs
    assert output.output_type == "display_data"
    assert set(output.data) == {"text/plain"}, "no widget: readable without JavaScript"
    line = output.data["text/plain"]
    assert line.startswith("demo: 100%|") and "6/6" in line and "█" in line


def test_iterating_and_disabling(tmp_path):
    outputs = _execute(
        "from noise2image.progress import progress_bar\n"
        "total = sum(progress_bar(range(4), desc='sum'))\n"
        "quiet = list(progress_bar(range(3), disable=True))\n"
        "print(total, quiet)",
        tmp_path,
    )
    texts = [o.get("text") or o.data["text/plain"] for o in outputs]
    assert texts[0].startswith("sum: 100%|") and "4/4" in texts[0]
    assert texts[1:] == ["6 [0, 1, 2]\n"]


def test_outside_a_notebook_it_is_tqdms_bar_on_stderr(capsys):
    assert not progress.in_notebook()
    assert sum(progress.progress_bar(range(3), desc="plain")) == 3
    assert "plain: 100%" in capsys.readouterr().err
