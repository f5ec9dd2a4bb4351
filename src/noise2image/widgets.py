"""Interactive pieces of the chapters: quizzes (and, later, rating and explorer widgets).

Every widget here also has a static form, because a rendered book shows no live widget.
"""

from __future__ import annotations

import json
from importlib import resources

from .profiles import check_choice

__all__ = [
    "QUIZZES",
    "quiz_file",
    "load_quiz",
    "show_quiz",
    "RatingWidget",
    "latent_explorer",
    "explorer_grid",
    "prompt_playground",
    "playground_grid",
]

QUIZZES = tuple(
    sorted(
        p.name.removesuffix(".json")
        for p in (resources.files(__package__) / "quizzes").iterdir()
        if p.name.endswith(".json")
    )
)


def quiz_file(chapter: str):
    """Where a chapter's quiz is stored (``quizzes/CHAPTER.json`` inside the package)."""
    check_choice("chapter", chapter, QUIZZES)
    return resources.files(__package__) / "quizzes" / f"{chapter}.json"


def load_quiz(chapter: str) -> list[dict]:
    """The questions of a chapter's quiz, in jupyterquiz's format."""
    return json.loads(quiz_file(chapter).read_text("utf-8"))


def show_quiz(chapter: str) -> None:
    """Display a chapter's quiz with jupyterquiz (works in Jupyter, Colab and the book)."""
    from jupyterquiz import display_quiz

    display_quiz(load_quiz(chapter))


# ----------------------------------------------------------------------------- rating


class RatingWidget:
    """Thumbs up / down for each of a few images; ratings go to a CSV file.

    >>> rater = RatingWidget(images, "ratings.csv", ids=[f"gan-{i}" for i in range(len(images))])
    >>> rater.widget          # in Jupyter: click 👍 or 👎 under each picture
    >>> rater.share_liked()   # the share of rated images that were liked

    The CSV (columns ``image_id, rating``; 1 = liked, 0 = not) is rewritten atomically on
    every click, so it always holds the latest rating of every image. This measures what
    a person thinks of the pictures, which no metric here does.
    """

    def __init__(self, images, path, ids=None, value_range=(0.0, 1.0)):
        import csv
        from pathlib import Path

        self.images = images
        self.path = Path(path)
        self.ids = list(ids) if ids is not None else [f"image-{i}" for i in range(len(images))]
        if len(self.ids) != len(images):
            raise ValueError(f"{len(self.ids)} ids for {len(images)} images")
        self.value_range = value_range
        self.ratings: dict[str, int] = {}
        if self.path.exists():
            with open(self.path, newline="") as handle:
                for row in csv.DictReader(handle):
                    if row["image_id"] in self.ids:
                        self.ratings[row["image_id"]] = int(row["rating"])
        self._widget = None

    def rate(self, image_id: str, liked: bool) -> None:
        """Record one rating (also what a button click does) and save the CSV."""
        check_choice("image_id", image_id, self.ids)
        self.ratings[image_id] = int(bool(liked))
        self.save()

    def save(self) -> None:
        import csv
        import io

        from .checkpoints import atomic_write

        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["image_id", "rating"])
        for image_id in self.ids:
            if image_id in self.ratings:
                writer.writerow([image_id, self.ratings[image_id]])
        with atomic_write(self.path, "w") as handle:
            handle.write(text.getvalue())

    def share_liked(self) -> float | None:
        """Liked / rated, or None before the first rating."""
        if not self.ratings:
            return None
        return sum(self.ratings.values()) / len(self.ratings)

    def summary(self) -> str:
        share = self.share_liked()
        if share is None:
            return f"0 of {len(self.ids)} images rated"
        return f"{len(self.ratings)} of {len(self.ids)} rated, {share:.0%} liked"

    @property
    def widget(self):
        """The ipywidgets version (build once, reuse)."""
        if self._widget is None:
            self._widget = self._build()
        return self._widget

    def _build(self):
        import io

        import ipywidgets as w
        from PIL import Image

        from .plotting import to_display

        status = w.HTML(self.summary())
        cells = []
        for image, image_id in zip(self.images, self.ids, strict=True):
            array = to_display(image, self.value_range).permute(1, 2, 0).squeeze(-1)
            picture = Image.fromarray((array.numpy() * 255).astype("uint8"))
            picture = picture.resize((96, 96), Image.NEAREST)
            buffer = io.BytesIO()
            picture.save(buffer, format="PNG")
            up = w.ToggleButton(description="👍", layout=w.Layout(width="46px"))
            down = w.ToggleButton(description="👎", layout=w.Layout(width="46px"))

            def click(change, image_id=image_id, up=up, down=down, liked=None):
                if not change["new"]:
                    return
                is_up = change["owner"] is up
                (down if is_up else up).value = False
                self.rate(image_id, is_up)
                status.value = self.summary()

            up.observe(click, "value")
            down.observe(click, "value")
            if image_id in self.ratings:
                (up if self.ratings[image_id] else down).value = True
            cells.append(
                w.VBox([w.Image(value=buffer.getvalue(), format="png"), w.HBox([up, down])])
            )
        return w.VBox(
            [w.GridBox(cells, layout=w.Layout(grid_template_columns="repeat(6, 110px)")), status]
        )

    def static_figure(self, ncol: int = 6):
        """The same pictures as a matplotlib figure, numbered as the CSV ids: for the book."""
        from .plotting import show_captioned

        return show_captioned(self.images, self.ids, ncol=ncol, value_range=self.value_range)


# ----------------------------------------------------------------------------- latent explorer


def explorer_grid(G, label: int, seeds, scales):
    """The explorer's static form: ``{f"noise × {scale}": (len(seeds), C, H, W) in [0, 1]}``."""
    import torch

    from .generate import from_seed
    from .preprocess import denormalise

    return {
        f"noise × {scale}": denormalise(torch.cat([from_seed(G, s, label, scale) for s in seeds]))
        for scale in scales
    }


def latent_explorer(G):
    """Sliders for the label, the noise seed and the noise scale; redraws on every change."""
    import io

    import ipywidgets as w
    from PIL import Image

    from .generate import from_seed
    from .plotting import to_display
    from .preprocess import denormalise

    label = w.IntSlider(value=7, min=0, max=9, description="digit")
    seed = w.IntSlider(value=0, min=0, max=999, description="noise seed")
    scale = w.FloatSlider(value=1.0, min=0.0, max=3.0, step=0.1, description="noise scale")
    picture = w.Image(format="png", width=224, height=224)

    def draw(*_):
        image = denormalise(from_seed(G, seed.value, label.value, scale.value))[0]
        array = (to_display(image).permute(1, 2, 0).squeeze(-1).numpy() * 255).astype("uint8")
        buffer = io.BytesIO()
        Image.fromarray(array).resize((224, 224), Image.NEAREST).save(buffer, format="PNG")
        picture.value = buffer.getvalue()

    for control in (label, seed, scale):
        control.observe(draw, "value")
    draw()
    return w.HBox([w.VBox([label, seed, scale]), picture])


def playground_grid(pipe, prompt: str, negative_prompt: str, guidance_scale: float,
                    steps: int, seed: int, n: int = 8):  # fmt: skip
    """The prompt playground's picture: ``n`` pictures ``(n, C, H, W)`` in [0, 1] for one
    prompt and negative prompt, the noise from ``seed`` (the static form draws the same):
    28 × 28 digits for chapter 8's model, 64 × 64 × 3 emoji for chapter 10's."""
    from .diffusion.evaluate import pictures_for

    if pipe.unet.config.sample_size != 8:  # chapter 10's colour model
        import torch

        from .diffusion.colour_eval import draw

        pictures = draw(pipe, [prompt] * n, seed, guidance_scale, steps, negative_prompt or None)
        return torch.from_numpy(pictures).permute(0, 3, 1, 2).float() / 255
    return pictures_for(
        pipe, [prompt] * n, seed=seed, negative_prompt=negative_prompt,
        guidance_scale=guidance_scale, num_inference_steps=steps,
    )  # fmt: skip


def prompt_playground(pipe, n: int = 8, prompt_text: str = "a bold seven", zoom: int = 4):
    """Text boxes for the prompt and the negative prompt, sliders for guidance, steps and seed;
    the grid of ``n`` pictures is redrawn whenever a control changes (chapters 8 and 10)."""
    import io

    import ipywidgets as w
    from PIL import Image
    from torchvision.utils import make_grid

    prompt = w.Text(value=prompt_text, description="prompt", continuous_update=False)
    negative = w.Text(value="", description="negative", continuous_update=False)
    scale = w.FloatSlider(value=4.0, min=1.0, max=12.0, step=0.5, description="guidance")
    steps = w.IntSlider(value=25, min=1, max=50, description="steps")
    seed = w.IntSlider(value=0, min=0, max=999, description="seed")
    side = 28 if pipe.unet.config.sample_size == 8 else 64
    picture = w.Image(format="png", width=4 * side * zoom, height=2 * side * zoom)
    message = w.Label()

    def draw(*_):
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            images = playground_grid(
                pipe, prompt.value, negative.value, scale.value, steps.value, seed.value, n
            )
        message.value = "; ".join(str(c.message) for c in caught)
        grid = make_grid(images, nrow=4, padding=2, pad_value=1.0)
        grid = grid[0] if images.shape[1] == 1 else grid.permute(1, 2, 0)
        array = (grid.clamp(0, 1).numpy() * 255).astype("uint8")
        buffer = io.BytesIO()
        image = Image.fromarray(array)
        image.resize((image.width * zoom, image.height * zoom), Image.NEAREST).save(buffer, "PNG")
        picture.value = buffer.getvalue()

    for control in (prompt, negative, scale, steps, seed):
        control.observe(draw, "value")
    draw()
    return w.HBox([w.VBox([prompt, negative, scale, steps, seed, message]), picture])
