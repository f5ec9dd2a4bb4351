"""Downloads, only when asked: is a download server reachable right now?

The course runs offline by default. The few things that need the network (the full
torchvision data sets in :mod:`noise2image.data`, VGG16's ImageNet weights in
:mod:`noise2image.losses`) first ask :func:`reachable`, so that offline they fail within
seconds with a message that names the offline alternative, instead of hanging.
"""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

__all__ = [
    "DatasetUnavailableError",
    "DOWNLOAD_HOSTS",
    "OFFLINE_ALTERNATIVE",
    "reachable",
    "torchvision_class",
    "fetch_torchvision",
]


class DatasetUnavailableError(RuntimeError):
    """A data set that needs a download is not on this machine and cannot be fetched."""


DOWNLOAD_HOSTS = {
    "mnist": "ossci-datasets.s3.amazonaws.com",
    "fashion_mnist": "fashion-mnist.s3-website.eu-central-1.amazonaws.com",
    "cifar10": "www.cs.toronto.edu",
}
OFFLINE_ALTERNATIVE = {
    "mnist": "mnist5k",
    "fashion_mnist": "mnist5k",
    "cifar10": "openmoji",
}


def reachable(host: str, timeout: float = 3.0) -> bool:
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


def torchvision_class(name: str):
    """torchvision's data set class for ``mnist``, ``fashion_mnist`` or ``cifar10``."""
    import torchvision.datasets as tvd

    return {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]


def fetch_torchvision(name: str, root: Path, download: bool) -> Path:
    """The folder holding a complete copy of torchvision's ``name`` under ``root``.

    Downloads it only with ``download=True`` and only if its server answers; the files go to
    a ``.partial`` folder that is renamed when complete, so a broken download keeps nothing.
    Raises :class:`DatasetUnavailableError` naming the embedded alternative otherwise.
    """
    target = root / name
    cls = torchvision_class(name)
    alternative = OFFLINE_ALTERNATIVE[name]
    if not (target / ".complete").exists():
        if not download:
            raise DatasetUnavailableError(
                f"{name!r} is not on this machine (looked in {target}). Pass download=True to "
                f"fetch it (needs internet), or use the embedded data set {alternative!r}, "
                f"which needs no download."
            )
        host = DOWNLOAD_HOSTS[name]
        if not reachable(host):
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
    return target
