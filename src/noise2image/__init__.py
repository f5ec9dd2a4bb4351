"""noise2image: the package behind the course *From Noise to Pictures*.

One module per stage of the image-generation pipeline, named after it, in pipeline order:

* ``course`` -- the pipeline at a glance (introduction, chapter 1)
* ``data`` -- collecting pictures: the embedded and downloadable data sets, splits (chapter 1)
* ``datacards`` -- what to know about a data set: source, licence, shape (chapter 1)
* ``downloads`` -- the only code that touches the network, and only when asked (chapters 1, 7)
* ``preprocess`` -- value ranges, resizing, grey, blur, augmentation (chapter 2; used everywhere)
* ``features`` -- hand-made filters and the course feature network (chapter 3)
* ``metrics`` -- clarity, FID, KID, Inception Score, recognisability; the digit evaluation
  every generator reports (chapter 3; used from chapter 4 on)
* ``gan`` -- the DCGAN game and its training loop (chapter 4); ``gan_nets`` -- its two
  players, the generator and the discriminator, which ``gan`` also exports
* ``generate`` -- the shipped GANs and sampling, interpolation, the layer trace (chapter 5)
* ``losses`` -- sharpening, gradient-difference and perceptual losses (chapters 6 and 7)
* ``regression`` -- chapter 6's blurry-generator experiment and its ablation
* ``autoencoder`` -- the convolutional autoencoder and its latent grid (chapter 7)
* ``diffusion`` -- a miniature latent text-to-image model with Stable Diffusion's parts:
  captions, model, pipeline, training and the shipped model, evaluation, the defect
  detector and ``negative_claims`` (chapter 8); and
  learned negative prompts (chapter 9): ``adapter`` (the "wrong" LoRA) and ``woolf``
  (its comparison, controls and claims), ``prompts``,
  ``reward``, ``community`` (the data set), ``policy`` (SFT and RL with trl), ``reneg``
  (the learned embedding) and ``comparison``, gathered for the chapter in ``optimiser``,
  and ``judge`` (a second digit classifier the optimisers never saw); and colour pictures
  from words (chapter 10): ``emoji_captions`` (the data, captions, held-out pairs and
  paraphrases), ``colour_vae``, ``pretrained_text`` (the frozen MiniLM), ``colour_train``,
  ``colour_shipped`` (the shipped colour model), ``emoji_classifier``, ``emoji_measures``
  and ``colour_eval``
* ``colours`` -- colour words measured on an emoji's pixels (CIELAB), for chapter 10's
  captions

and the modules every chapter leans on: ``profiles`` (parameters, seeds, the device),
``training`` (resumable checkpoints and moving averages shared by every training loop),
``checkpoints`` (atomic files, checksums), ``shipped`` (the registry of the shipped models
and their one command: ``python -m noise2image.shipped list|verify|retrain``), ``progress`` (text
progress bars), ``plotting`` (grids, panels, tables, ``show_source``), ``widgets``
(quizzes, the rating widget, the latent explorer, each with a static form), ``records``
(what a chapter glues and records), ``claims`` (the one rule that decides every "held",
"not held", "not shown" of chapters 6-9, with counts, intervals and seeds), ``runner``
(papermill runs of chapters), ``sweeps`` (one chapter over a grid, one table) and
``cluster`` (sweeps on Dask). The repository's own tools (expected numbers, the
second-CPU check, the instructors' tables) live in its ``tools/`` folder, outside this
package; ``lint-imports`` checks the layers (pyproject.toml).
"""

__version__ = "0.1.0"
