"""Run profiles, parameter checking, seeding and device choice.

Every chapter's ``parameters`` cell holds at least ``profile``, ``seed`` and ``device``.
The chapter passes them to :func:`setup`, which checks them, seeds every random number
generator and picks the device. A bad value stops the notebook at once with a
:class:`ParameterError` that names the allowed values.

Profiles:

* ``"smoke"`` -- seconds; tiny sizes; used by the tests.
* ``"full"``  -- the book's figures and numbers, a few minutes on two CPU cores.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = [
    "PROFILES",
    "ParameterError",
    "RunSettings",
    "check_choice",
    "check_int",
    "check_float",
    "check_numbers",
    "pick",
    "resolve_device",
    "seed_everything",
    "setup",
    "check_injected_parameters",
]

PROFILES = ("smoke", "full")
DEVICES = ("auto", "cpu", "cuda", "mps")

T = TypeVar("T")


class ParameterError(ValueError):
    """A notebook or function parameter has a value that is not allowed."""


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise :class:`ParameterError`."""
    allowed = tuple(allowed)
    if value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise ParameterError(f"{name}={value!r} is not allowed; choose one of: {listed}")
    return value


def _check_number(name, value, kind, minimum, maximum):
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ParameterError(f"{name}={value!r} must be a {kind_name(kind)}")
    if isinstance(value, float) and not math.isfinite(value):
        # NaN compares false with every bound and infinity passes an open one: refuse both
        raise ParameterError(f"{name}={value!r} must be a finite number (not NaN or infinity)")
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name}={value!r} is too small; it must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name}={value!r} is too large; it must be <= {maximum}")
    return value


def kind_name(kind) -> str:
    return "whole number" if kind is int else "number"


def check_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` if it is an int within ``[minimum, maximum]``."""
    return _check_number(name, value, int, minimum, maximum)


def check_float(
    name: str, value: Any, minimum: float | None = None, maximum: float | None = None
) -> float:
    """Return ``float(value)`` if it is a number within ``[minimum, maximum]``."""
    return float(_check_number(name, value, (int, float), minimum, maximum))


def check_numbers(
    name: str,
    values: Any,
    kind: type = float,
    minimum: float | None = None,
    maximum: float | None = None,
    length: int | None = None,
) -> tuple:
    """Return ``values`` as a tuple if it is a non-empty list or tuple of numbers (``kind``
    ``int``: whole numbers), each within ``[minimum, maximum]``, and of ``length`` items
    when one is given. A single number or a string is refused with an example of a list
    (papermill passes ``-p seeds 1`` as the number 1 and ``-p seeds "(1, 2)"`` as text;
    a list is given with ``-y "seeds: [1, 2, 3]"``)."""
    example = "[1, 2, 3]" if kind is int else "[0.5, 1.0]"
    if not isinstance(values, list | tuple) or not values:
        raise ParameterError(
            f"{name}={values!r} must be a non-empty list of {kind_name(kind)}s, e.g. {example} "
            f'(with papermill: -y "{name}: {example}")'
        )
    if length is not None and len(values) != length:
        raise ParameterError(f"{name}={values!r} must hold {length} numbers, not {len(values)}")
    check = check_int if kind is int else check_float
    return tuple(check(f"{name}[{i}]", v, minimum, maximum) for i, v in enumerate(values))


def pick(profile: str, *, smoke: T, full: T) -> T:
    """The value for ``profile``: ``pick(profile, smoke=2, full=40)``."""
    check_choice("profile", profile, PROFILES)
    return smoke if profile == "smoke" else full


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then the CPU; other names are checked."""
    check_choice("device", device, DEVICES)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device='cuda' was asked for but no CUDA GPU is visible; use 'auto'")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ParameterError("device='mps' was asked for but MPS is not available; use 'auto'")
    return torch.device(device)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator seeded the same way."""
    check_int("seed", seed, minimum=0, maximum=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    return torch.Generator().manual_seed(seed)


@dataclass(frozen=True)
class RunSettings:
    """What :func:`setup` checked and chose for a notebook run."""

    profile: str
    seed: int
    device: torch.device

    def pick(self, *, smoke: T, full: T) -> T:
        """The value for this run's profile."""
        return pick(self.profile, smoke=smoke, full=full)

    def given(self, name: str, value: Any, *, smoke: T, full: T, minimum=None, maximum=None):
        """A parameter whose ``None`` means "the profile's value" (:meth:`pick`): any other
        value is checked, never replaced (``0`` is 0, and refused where 0 is not allowed).
        Lists and tuples are checked item by item, a number as a number of the default's
        kind (``int`` defaults: whole numbers)."""
        if value is None:
            return self.pick(smoke=smoke, full=full)
        default = full if full is not None else smoke
        if isinstance(default, list | tuple):
            kind = int if all(isinstance(v, int) for v in default) else float
            return check_numbers(name, value, kind, minimum, maximum)
        if isinstance(default, int):
            return check_int(name, value, minimum, maximum)
        return check_float(name, value, minimum, maximum)


def _assigned(source: str) -> list[str]:
    """The names a cell assigns at its top level (``a = 1``, ``a: int = 1``)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def check_injected_parameters(history: Sequence[str] | None) -> None:
    """Stop a chapter run by papermill with a name its parameters cell does not have.

    papermill only *warns* about an unknown parameter and runs the defaults (a typo such as
    ``-p datset openmoji`` would pass unnoticed). It injects its values as a cell starting
    ``# Parameters`` right after the cell tagged ``parameters``; ``history`` is IPython's
    list of executed cells (``In``). Outside papermill (no injected cell) nothing is checked.
    """
    if not history:
        return
    cells = list(history)
    for index, source in enumerate(cells):
        if index > 0 and source.lstrip().startswith("# Parameters"):
            declared = _assigned(cells[index - 1])
            unknown = [n for n in _assigned(source) if n not in declared]
            if unknown:
                raise ParameterError(
                    f"unknown parameter{'s' * (len(unknown) > 1)} {', '.join(unknown)}: this "
                    f"notebook's parameters are {', '.join(declared)}"
                )


def setup(profile: str = "full", seed: int = 0, device: str = "auto") -> RunSettings:
    """Check the common parameters, seed everything and choose the device. Called from a
    chapter, it first stops on a papermill parameter the chapter does not have
    (:func:`check_injected_parameters` on the notebook's ``In``)."""
    import sys

    caller = sys._getframe(1).f_globals
    if isinstance(caller.get("In"), list) and caller.get("get_ipython") is not None:
        check_injected_parameters(caller["In"])
    check_choice("profile", profile, PROFILES)
    seed_everything(seed)
    return RunSettings(profile=profile, seed=seed, device=resolve_device(device))
