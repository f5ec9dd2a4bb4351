"""One rule for every "held / not held" in the course.

A chapter states a claim ("the quality negative at least halves the degraded share"),
measures it, and labels it with one of four verdicts:

* ``"held"`` -- the evidence is on the claimed side beyond chance: the 95 % interval of a
  share (or of a difference of shares) lies wholly on the claimed side of the bar, or every
  seed's value does, beyond the seed-to-seed spread and the cross-CPU drift;
* ``"not held"`` -- the same evidence on the other side;
* ``"not shown"`` -- neither: the interval straddles the bar, or the seeds disagree. This
  is the honest verdict for 6 against 1 degraded pictures of 500;
* ``"not testable here"`` -- the course's scale makes the claim meaningless; the reason is
  kept as data.

Shares of pictures are counts (``k`` of ``n``, pooled over the seeds: every picture is a
fresh draw of noise) with Wilson score intervals; a difference or a ratio of two shares
(``p_b - factor * p_a``) gets the MOVER interval built from the two Wilson intervals
(Newcombe 1998; Zou & Donner 2008), which stays sensible for small counts. A number that
is not a share (FID, clarity) is measured once per seed, and its rule asks every seed.

>>> from noise2image import claims
>>> claims.share_ratio("halves the degraded share", 6, 500, 1, 500, factor=0.5).verdict
'not shown'
>>> claims.share_ratio("halves the degraded share", 60, 500, 10, 500, factor=0.5).verdict
'held'

Every verdict is a :class:`Verdict` row with its numbers, its n, its interval and its
rule's name; :func:`table` makes a chapter's claims table of them and :func:`summary` the
sentence that counts them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from .profiles import ParameterError, check_choice, check_float, check_int

__all__ = [
    "HELD",
    "NOT_HELD",
    "NOT_SHOWN",
    "NOT_TESTABLE",
    "VERDICTS",
    "RULES",
    "Verdict",
    "wilson",
    "mover",
    "ratio_interval",
    "share_bar",
    "share_ratio",
    "share_erased",
    "share_drop",
    "share_gain",
    "seeds_bar",
    "seeds_difference",
    "seeds_within",
    "by_construction",
    "not_testable",
    "table",
    "summary",
    "recheck",
    "guard",
    "RECORDED",
]

HELD, NOT_HELD, NOT_SHOWN, NOT_TESTABLE = "held", "not held", "not shown", "not testable here"
VERDICTS = (HELD, NOT_HELD, NOT_SHOWN, NOT_TESTABLE)
Z95 = 1.959963984540054
"""The normal quantile of a two-sided 95 % interval."""

RULES = {
    "share vs bar": "95 % Wilson interval of the share wholly past the bar",
    "share ratio": "95 % interval of p_after / p_before (MOVER) wholly past the factor",
    "share drop": "95 % MOVER interval of p_before - p_after wholly on one side of the bar",
    "share gain": "95 % MOVER interval of p_a - p_b (two runs) wholly on one side of the bar",
    "seeds vs bar": "every seed past the bar by more than the cross-CPU drift",
    "seeds difference": (
        "every seed's difference on one side, its mean beyond the seed-to-seed spread "
        "and the cross-CPU drift"
    ),
    "seeds within": "every seed inside the claimed range by more than the cross-CPU drift",
    "by construction": "decided by what the method is, not by a measurement",
    "not testable": "the course's scale makes the claim meaningless here",
}
"""Each rule's name (in every verdict row) and what it asks."""


@dataclass(frozen=True)
class Verdict:
    """One claim, decided: the measured value, its 95 % interval (``low``, ``high``; for
    seeds, the smallest and largest seed), ``n`` (pictures, or seeds), the rule's name, the
    verdict and, in words, the counts or values it rests on. ``bar`` (and ``bar_high`` for a
    range), ``side`` (``"above"``, ``"below"`` or ``"within"``) and ``margin`` (how far past
    the bar the rule asks: the cross-CPU drift, or the seed-to-seed spread of a difference)
    make the row checkable on its own: :func:`recheck` decides it again from these. ``guard``
    marks a row that guards against a harm ("not worse by more than 2 points", a placebo)
    rather than claiming a gain: :func:`summary` counts the two apart (:func:`guard`)."""

    claim: str
    measured: float | None
    low: float | None
    high: float | None
    n: int | None
    rule: str
    verdict: str
    detail: str = ""
    bar: float | None = None
    side: str | None = None
    margin: float = 0.0
    bar_high: float | None = None
    guard: bool = False

    def row(self) -> dict:
        return asdict(self)


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a share ``k / n`` (95 % by default): never outside
    [0, 1], and not empty at ``k = 0`` or ``k = n`` as the normal approximation is."""
    check_int("n", n, minimum=1)
    check_int("k", k, minimum=0, maximum=n)
    check_float("z", z, minimum=0.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def mover(
    k_a: int, n_a: int, k_b: int, n_b: int, factor: float = 1.0, z: float = Z95
) -> tuple[float, float, float]:
    """``p_b - factor * p_a`` and its 95 % MOVER interval from the two Wilson intervals
    (``factor`` 1: Newcombe's interval of a difference of shares)."""
    check_float("factor", factor, minimum=0.0)
    p_a, p_b = k_a / check_int("n_a", n_a, minimum=1), k_b / check_int("n_b", n_b, minimum=1)
    (l_a, u_a), (l_b, u_b) = wilson(k_a, n_a, z), wilson(k_b, n_b, z)
    d = p_b - factor * p_a
    low = d - math.sqrt((p_b - l_b) ** 2 + (factor * (u_a - p_a)) ** 2)
    high = d + math.sqrt((u_b - p_b) ** 2 + (factor * (p_a - l_a)) ** 2)
    return d, low, high


def _side(low: float, high: float, bar: float, direction: str) -> str:
    """``held`` when [low, high] is wholly on the claimed side of ``bar``, ``not held`` when
    wholly on the other, else ``not shown``. ``direction``: ``"above"`` or ``"below"``."""
    check_choice("direction", direction, ("above", "below"))
    if direction == "above":
        return HELD if low > bar else NOT_HELD if high < bar else NOT_SHOWN
    return HELD if high < bar else NOT_HELD if low > bar else NOT_SHOWN


def _count(k, n) -> str:
    return f"{k} of {n} ({100 * k / n:.1f} %)"


def share_bar(claim: str, k: int, n: int, bar: float, direction: str = "above") -> Verdict:
    """A share claimed to be above (or below) ``bar``: e.g. "classified as asked >= 95 %"
    with ``k`` of ``n`` pictures."""
    check_float("bar", bar, minimum=0.0, maximum=1.0)
    low, high = wilson(k, n)
    return Verdict(claim, k / n, low, high, n, "share vs bar",
                   _side(low, high, bar, direction), _count(k, n), bar, direction)  # fmt: skip


def ratio_interval(
    k_before: int, n_before: int, k_after: int, n_after: int, z: float = Z95
) -> tuple[float, float]:
    """The 95 % interval of ``p_after / p_before``: every factor ``f`` whose MOVER interval
    of ``p_after - f * p_before`` holds 0 (found by bisection; ``inf`` above when
    ``k_before`` is 0, where no ratio is bounded)."""

    def bounds(f):
        return mover(k_before, n_before, k_after, n_after, f, z)[1:]

    def solve(side: int) -> float:  # the f where bounds(f)[side] crosses 0 (decreasing)
        if bounds(0.0)[side] <= 0:
            return 0.0
        top = 1.0
        while bounds(top)[side] > 0:
            top *= 2
            if top > 1e12:
                return math.inf
        bottom = 0.0
        for _ in range(80):
            middle = (bottom + top) / 2
            bottom, top = (middle, top) if bounds(middle)[side] > 0 else (bottom, middle)
        return (bottom + top) / 2

    return solve(0), solve(1)


def share_ratio(
    claim: str, k_before: int, n_before: int, k_after: int, n_after: int, factor: float
) -> Verdict:
    """A share claimed to fall to at most ``factor`` of what it was ("at least halves":
    0.5; "to a quarter": 0.25). ``measured`` is ``p_after / p_before`` with its 95 %
    interval (:func:`ratio_interval`): held when the interval lies wholly below ``factor``,
    not held when wholly above."""
    check_float("factor", factor, minimum=0.0)
    low, high = ratio_interval(k_before, n_before, k_after, n_after)
    p_before, p_after = k_before / n_before, k_after / n_after
    ratio = p_after / p_before if p_before else math.inf
    detail = f"{_count(k_before, n_before)} -> {_count(k_after, n_after)}"
    return Verdict(claim, ratio, low, high, n_before + n_after, "share ratio",
                   _side(low, high, factor, "below"), detail, factor, "below")  # fmt: skip


def share_erased(
    claim: str, k_before: int, n_before: int, k_after: int, n_after: int, factor: float = 0.25
) -> Verdict:
    """A concept a negative prompt is claimed to erase: its share falls to at most
    ``factor`` of what the prompt alone drew (:func:`share_ratio`), counted by the same
    judge on the same seeds. **Not testable here** when the prompt alone drew it in none of
    its pictures (``k_before`` 0): a negative prompt only pushes away from what the prompt
    would draw, so there is nothing to erase, and "0 -> 0" is no evidence either way."""
    check_int("n_before", n_before, minimum=1)
    check_int("k_before", k_before, minimum=0, maximum=n_before)
    if k_before == 0:
        return not_testable(claim, f"the prompt alone drew it in 0 of {n_before} pictures")
    return share_ratio(claim, k_before, n_before, k_after, n_after, factor)


def share_drop(
    claim: str, k_before: int, n_before: int, k_after: int, n_after: int, most: float
) -> Verdict:
    """A share claimed to fall by at most ``most`` (e.g. 0.02: "down by <= 2 points"): held
    when the interval of ``p_before - p_after`` is wholly below ``most``."""
    d, low, high = mover(k_after, n_after, k_before, n_before)  # p_before - p_after
    detail = f"{_count(k_before, n_before)} -> {_count(k_after, n_after)}"
    return Verdict(claim, d, low, high, n_before + n_after, "share drop",
                   _side(low, high, most, "below"), detail, most, "below")  # fmt: skip


def share_gain(claim: str, k_a: int, n_a: int, k_b: int, n_b: int, bar: float) -> Verdict:
    """Run A's share claimed to beat run B's by more than ``bar`` (e.g. 0.2: "by at least 20
    points"): held when Newcombe's interval of ``p_a - p_b`` is wholly above ``bar``, not
    held when wholly below."""
    check_float("bar", bar, minimum=-1.0, maximum=1.0)
    d, low, high = mover(k_b, n_b, k_a, n_a)  # p_a - p_b
    detail = f"{_count(k_a, n_a)} vs {_count(k_b, n_b)}"
    return Verdict(claim, d, low, high, n_a + n_b, "share gain",
                   _side(low, high, bar, "above"), detail, bar, "above")  # fmt: skip


def _values(name: str, values: Sequence[float]) -> list[float]:
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise ParameterError(f"{name} must be a non-empty list of numbers, one per seed")
    return [check_float(f"{name}[{i}]", v) for i, v in enumerate(values)]


def seeds_bar(
    claim: str, values: Sequence[float], bar: float, direction: str = "above", drift: float = 0.0
) -> Verdict:
    """A number claimed above (or below) ``bar``, measured once per seed: held when every
    seed is past the bar by more than ``drift`` (the cross-CPU drift of the number), not
    held when every seed misses it by more than ``drift``, else not shown."""
    values = _values("values", values)
    check_float("drift", drift, minimum=0.0)
    check_choice("direction", direction, ("above", "below"))
    sign = 1 if direction == "above" else -1
    if all(sign * (v - bar) > drift for v in values):
        verdict = HELD
    elif all(sign * (bar - v) > drift for v in values):
        verdict = NOT_HELD
    else:
        verdict = NOT_SHOWN
    low, high = min(values), max(values)
    mean = sum(values) / len(values)
    detail = ", ".join(f"{v:.3g}" for v in values)
    return Verdict(claim, mean, low, high, len(values), "seeds vs bar", verdict, detail,
                   bar, direction, drift)  # fmt: skip


def seeds_difference(
    claim: str,
    before: Sequence[float],
    after: Sequence[float],
    direction: str = "above",
    drift: float = 0.0,
) -> Verdict:
    """``after`` claimed higher (``direction="above"``) or lower than ``before``, both
    measured on the same seeds: held when every seed's difference is on the claimed side and
    the mean difference is larger than the seed-to-seed spread (largest minus smallest, of
    either) and than ``drift``; not held when all of that holds on the other side; else not
    shown. ``measured`` is the mean difference, ``low`` / ``high`` the seeds' extremes."""
    before, after = _values("before", before), _values("after", after)
    if len(before) != len(after):
        raise ParameterError(
            f"before and after must hold one value per seed each, not {len(before)} and "
            f"{len(after)}"
        )
    check_float("drift", drift, minimum=0.0)
    diffs = [b - a for a, b in zip(before, after, strict=True)]
    mean = sum(diffs) / len(diffs)
    spread = max(max(before) - min(before), max(after) - min(after), drift)
    check_choice("direction", direction, ("above", "below"))
    sign = 1 if direction == "above" else -1
    if all(sign * d > 0 for d in diffs) and sign * mean > spread:
        verdict = HELD
    elif all(sign * d < 0 for d in diffs) and -sign * mean > spread:
        verdict = NOT_HELD
    else:
        verdict = NOT_SHOWN
    detail = f"{mean:+.3g} (seeds {min(diffs):+.3g} to {max(diffs):+.3g}, spread {spread:.3g})"
    return Verdict(claim, mean, min(diffs), max(diffs), len(diffs), "seeds difference",
                   verdict, detail, 0.0, direction, spread)  # fmt: skip


def seeds_within(
    claim: str, values: Sequence[float], low: float, high: float, drift: float = 0.0
) -> Verdict:
    """A number claimed to lie between ``low`` and ``high`` ("about 60", "changes by no more
    than the spread"), measured once per seed: held when every seed lies inside by more
    than ``drift``, not held when every seed lies outside, else not shown."""
    values = _values("values", values)
    check_float("low", low), check_float("high", high), check_float("drift", drift, minimum=0.0)
    if high < low:
        raise ParameterError(f"low={low} must not be above high={high}")
    if all(low + drift < v < high - drift for v in values):
        verdict = HELD
    elif all(v < low - drift or v > high + drift for v in values):
        verdict = NOT_HELD
    else:
        verdict = NOT_SHOWN
    detail = ", ".join(f"{v:.3g}" for v in values) + f" (claimed between {low:.3g} and {high:.3g})"
    return Verdict(claim, sum(values) / len(values), min(values), max(values), len(values),
                   "seeds within", verdict, detail, low, "within", drift, high)  # fmt: skip


def by_construction(claim: str, held: bool, reason: str) -> Verdict:
    """A claim about what a method *is* (read from its definition, not measured): held or
    not held by construction, with the reason as data."""
    if not reason:
        raise ParameterError("reason must say what in the method decides the claim")
    return Verdict(claim, None, None, None, None, "by construction",
                   HELD if held else NOT_HELD, reason)  # fmt: skip


def not_testable(claim: str, reason: str) -> Verdict:
    """A claim the course's scale cannot test, with the reason as data."""
    if not reason:
        raise ParameterError("reason must say why the claim cannot be tested here")
    return Verdict(claim, None, None, None, None, "not testable", NOT_TESTABLE, reason)


RECORDED = ("verdict", "measured", "low", "high", "n", "rule", "bar", "bar_high", "side",
            "margin", "guard")  # fmt: skip
"""The columns of a claims table a chapter records: enough for :func:`recheck`."""


def table(verdicts: Sequence[Verdict]):
    """The claims table: one row per claim, its verdict, rule, n, value and interval, and
    (after ``detail``) the bar, side and margin that decide it."""
    import pandas as pd

    rows = [v.row() for v in verdicts]
    frame = pd.DataFrame(rows).set_index("claim")
    return frame[["verdict", "measured", "low", "high", "n", "detail", "rule", "bar",
                  "bar_high", "side", "margin", "guard"]]  # fmt: skip


def guard(verdict: Verdict) -> Verdict:
    """The same row marked as a guard (a "not worse" or placebo check, not a gain): a
    chapter's count of held claims then leaves it out (:func:`summary`)."""
    from dataclasses import replace

    return replace(verdict, guard=True)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def recheck(row) -> str | None:
    """Decide a recorded claims row again from its own numbers (a mapping with the
    :data:`RECORDED` keys, e.g. read back from a chapter's records): ``None`` when its
    verdict follows from its numbers by its rule, else a sentence saying how it does not.
    Interval rules and per-seed bars are decided exactly; a range (``seeds within``) from
    its smallest and largest seed, so only a wrong "held" or a "held" missed is caught."""
    verdict, rule = row.get("verdict"), row.get("rule")
    if verdict not in VERDICTS:
        return f"verdict {verdict!r} is none of {VERDICTS}"
    if rule not in RULES:
        return f"rule {rule!r} is none of {tuple(RULES)}"
    if rule == "not testable":
        return None if verdict == NOT_TESTABLE else f"a claim not testable here says {verdict!r}"
    if rule == "by construction":
        return None if verdict in (HELD, NOT_HELD) else f"decided by construction but {verdict!r}"
    if verdict == NOT_TESTABLE:
        return f"measured by {rule!r} but labelled {verdict!r}"
    low, high, bar, side = row.get("low"), row.get("high"), row.get("bar"), row.get("side")
    measured, margin = row.get("measured"), row.get("margin") or 0.0
    if any(_missing(v) for v in (low, high, bar, measured)) or side is None:
        return "the row lacks its numbers (measured, low, high, bar, side)"
    if low > high:
        return f"low {low:.4g} is above high {high:.4g}"
    if rule in ("share vs bar", "share ratio", "share drop", "share gain"):
        if not low - 1e-9 <= measured <= high + 1e-9:
            return f"measured {measured:.4g} lies outside its interval {low:.4g} to {high:.4g}"
        want = _side(low, high, bar, side)
    elif rule == "seeds vs bar":
        sign = 1 if side == "above" else -1
        worst, best = (low, high) if side == "above" else (high, low)
        want = (HELD if sign * (worst - bar) > margin
                else NOT_HELD if sign * (bar - best) > margin else NOT_SHOWN)  # fmt: skip
    elif rule == "seeds difference":
        sign = 1 if side == "above" else -1
        nearest, farthest = (low, high) if side == "above" else (-high, -low)  # signed
        if nearest > 0 and sign * measured > margin:
            want = HELD
        elif farthest < 0 and -sign * measured > margin:
            want = NOT_HELD
        else:
            want = NOT_SHOWN
    else:  # seeds within
        top = row.get("bar_high")
        if _missing(top):
            return "a range claim lacks its upper end (bar_high)"
        inside = bar + margin < low and high < top - margin
        if (verdict == HELD) != inside:
            return (f"{verdict!r}, but the seeds run {low:.4g} to {high:.4g} against the range "
                    f"{bar:.4g} to {top:.4g} (margin {margin:.3g})")
        return None
    if want != verdict:
        return (f"{verdict!r}, but its numbers say {want!r} ({rule}: {low:.4g} to {high:.4g} "
                f"against {bar:.4g}, {side}, margin {margin:.3g})")
    return None


def summary(verdicts) -> dict[str, str]:
    """Counts and lists for a chapter's glued sentence: ``{"held": "3 of 11", "not held":
    "claim; claim", ...}`` ("none" for an empty list); ``"claims held"`` counts the claims
    of a gain alone, ``"guards held"`` the guard rows (:func:`guard`). ``verdicts``: the
    rows, or the claims table :func:`table` made of them."""
    if hasattr(verdicts, "iterrows"):  # a claims table (:func:`table`) instead of its rows
        verdicts = [Verdict(claim, r["measured"], r["low"], r["high"], r["n"], r["rule"],
                            r["verdict"], guard=bool(r.get("guard", False)))
                    for claim, r in verdicts.iterrows()]  # fmt: skip

    def held(rows):
        return f"{sum(v.verdict == HELD for v in rows)} of {len(rows)}"

    out = {
        "held": held(verdicts),
        "claims held": held([v for v in verdicts if not v.guard]),
        "guards held": held([v for v in verdicts if v.guard]),
    }
    for verdict in (NOT_HELD, NOT_SHOWN, NOT_TESTABLE):
        names = [v.claim for v in verdicts if v.verdict == verdict]
        out[verdict] = "; ".join(names) if names else "none"
    return out
