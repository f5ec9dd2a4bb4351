"""noise2image: the package behind the course *From Noise to Pictures*.

One module per stage of the image-generation pipeline, named after it:
``data`` (chapter 1), ``plotting`` (every chapter), ``profiles`` and ``checkpoints``
(running and saving), ``widgets`` (quizzes and interactive pieces), ``runner``
(papermill runs for instructors, tests and benchmarks).
"""

__version__ = "0.1.0"
