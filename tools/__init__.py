"""The repository's own tools: what builds, checks and measures the course, never shipped
in the ``noise2image`` wheel and never imported by it (the import contracts in
``pyproject.toml`` say so).

* :mod:`tools.expected` -- the chapters' recorded numbers against ``tests/expected``;
* :mod:`tools.prose` -- a chapter's prose read with one run's numbers: a sentence or a
  claims row they contradict (part of ``tools.expected check``);
* :mod:`tools.kernels` -- the same chapters under other CPU kernel sets (the second-CPU
  check): the drift of every recorded number, and the tolerances derived from it.

Run them from the repository's root: ``python -m tools.expected check ...``,
``python -m tools.kernels ...``.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root (the tools live in it; the package does not)."""
