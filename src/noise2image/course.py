"""The course at a glance: the pipeline of image generation, stage by stage.

The introduction and chapter 1 show :func:`pipeline_table`; the package's own docstring
(``noise2image.__doc__``) maps every module to its chapter.
"""

from __future__ import annotations

__all__ = ["PIPELINE", "pipeline_table"]

PIPELINE = (
    # stage, chapter, input, operation, output, example
    ("1 collect", "1", "files in a wheel", "decode / render, split", "N×64×64×3 uint8",
     "emoji pictures, handwritten digits"),
    ("2 preprocess", "2", "N×64×64×3 uint8", "scale to [-1, 1], resize, to N×C×H×W",
     "N×3×64×64 float", "a batch of 64 tensors"),
    ("3 features", "3", "1×3×64×64", "convolutions + pooling", "16×16×64 feature maps",
     "edges, strokes, blobs"),
    ("4 train", "4", "real batch + noise", "generator vs discriminator", "trained weights",
     "loss trace per epoch"),
    ("5 generate", "5", "1×100 noise", "transposed convolutions", "1×28×28 or 3×64×64 image",
     "a new digit or emoji"),
    ("6 sharpen", "6", "generated image", "edge (Laplacian) loss term", "sharper image",
     "clarity score"),
    ("7 perceive", "7", "image pair", "compare CNN features, not pixels", "perceptual loss",
     "autoencoder latents"),
    ("8 prompt", "8", "text + noise latent", "guided denoising (diffusion)", "image",
     "negative prompts"),
)  # fmt: skip


def pipeline_table():
    """The course pipeline as a table: stage, chapter, input, operation, output, example.

    These are the shapes the course is designed around; each chapter measures its own.
    """
    import pandas as pd

    columns = ["stage", "chapter", "input", "operation", "output", "example"]
    return pd.DataFrame(PIPELINE, columns=columns).set_index("stage")
