"""The Pareto front and the recommendations of the trade-off report: pure functions of rows.

A row is one configuration (target, precision, tile, threads). Its speed is ``ms_per_mp`` (the
median of repeated end-to-end runs on the report's photo, global-context mode, with the runs'
min..max as its spread) and its cost in quality is ``psnr_drop_db`` (the fp32 model's best PSNR
over the report's tiles minus the row's: precision, runtime and tile size all count). Rows lacking
either (Core ML on Linux, imported profiles without quality) take no part.

Differences the measurement cannot resolve are ties, and a recommendation says so instead of
letting a median or a few bytes decide:

- speed: two rows tie when their end-to-end spreads overlap;
- quality: when their drops differ by less than QUALITY_TIE_DB (the suite's PSNR is deterministic,
  but a user cannot see a hundredth of a dB);
- size: when their artifacts differ by less than SIZE_TIE_FRACTION.

Rows of different machines are never compared: the caller ranks one machine's rows at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

QUALITY_TIE_DB = 0.02
SIZE_TIE_FRACTION = 0.02


def signed_db(value: float) -> str:
    """+0.072 dB; a rounding-sized negative drop prints as +0.000, not -0.000."""
    return f"{round(value, 3) + 0.0:+.3f} dB"


class Point(Protocol):
    key: str
    threads: int | None
    ms_per_mp: float | None
    ms_per_mp_low: float | None
    ms_per_mp_high: float | None
    psnr_drop_db: float | None
    psnr_db: float | None
    artifact_mb: float | None


def measured(rows: Sequence[Point]) -> list[Point]:
    """Rows with both a speed and a quality drop."""
    return [row for row in rows if row.ms_per_mp is not None and row.psnr_drop_db is not None]


def spread(row: Point) -> tuple[float, float]:
    """The row's end-to-end range (min..max of its runs); a single run is a range of one value."""
    low = row.ms_per_mp_low if row.ms_per_mp_low is not None else row.ms_per_mp
    high = row.ms_per_mp_high if row.ms_per_mp_high is not None else row.ms_per_mp
    return min(low, row.ms_per_mp), max(high, row.ms_per_mp)


def speed_tie(a: Point, b: Point) -> bool:
    """The two rows' end-to-end spreads overlap: which is faster is not measured."""
    (a_low, a_high), (b_low, b_high) = spread(a), spread(b)
    return a_low <= b_high and b_low <= a_high


def quality_tie(a: Point, b: Point) -> bool:
    return abs(a.psnr_drop_db - b.psnr_drop_db) < QUALITY_TIE_DB


def size_tie(a: Point, b: Point) -> bool:
    return abs(a.artifact_mb - b.artifact_mb) < SIZE_TIE_FRACTION * max(a.artifact_mb, b.artifact_mb)


def pareto_front(rows: Sequence[Point]) -> list[Point]:
    """Rows no other row beats on both ms/MP and PSNR drop (lower is better for both), sorted by
    ms/MP. A row is dominated when another is at least as good on both and better on one; equal
    rows dominate neither, so ties stay on the front together."""
    points = measured(rows)
    front = [row for row in points
             if not any(other.ms_per_mp <= row.ms_per_mp and other.psnr_drop_db <= row.psnr_drop_db
                        and (other.ms_per_mp < row.ms_per_mp or other.psnr_drop_db < row.psnr_drop_db)
                        for other in points)]
    return sorted(front, key=lambda row: (row.ms_per_mp, row.psnr_drop_db, row.key))


@dataclass(frozen=True)
class Recommendation:
    goal: str  # what was asked, in words
    key: str | None  # the chosen row; None: nothing qualifies
    why: str
    ties: list[str] = field(default_factory=list)  # rows indistinguishable from the chosen one on the goal's measure
    machine: str | None = None  # the machine whose rows were ranked


def _spread_text(row: Point) -> str:
    low, high = spread(row)
    return f"{row.ms_per_mp:.0f} ms/MP ({low:.0f}–{high:.0f})" if high > low else f"{row.ms_per_mp:.0f} ms/MP"


def _simplest(rows: Sequence[Point]) -> Point:
    """Among indistinguishable rows: the smallest artifact, then the fewest threads, the better quality,
    the faster median."""
    return min(rows, key=lambda row: (row.artifact_mb if row.artifact_mb is not None else float("inf"),
                                      row.threads or 0, row.psnr_drop_db, row.ms_per_mp, row.key))


NAMED_TIES = 5  # a recommendation names this many tied rows; the rest are counted (report.json lists them all)


def _among_ties(fits: Sequence[Point], anchor: Point, tie: Callable[[Point, Point], bool],
                pick: Callable[[list[Point]], Point], order: Callable[[Point], Any]) -> tuple[Point, list[Point]]:
    """The rows indistinguishable from ``anchor`` (the goal's best by its measure), the one ``pick``
    chooses among them, and the others in ``order``."""
    group = [row for row in fits if tie(row, anchor)]
    best = pick(group)
    return best, sorted((row for row in group if row is not best), key=order)


def _tie_text(chosen: Point, tied: Sequence[Point], measure: str, rule: str) -> str:
    if not tied:
        return ""
    rows = [chosen, *tied]
    names = ", ".join(row.key for row in rows[:NAMED_TIES])
    if len(rows) > NAMED_TIES:
        names += f" and {len(rows) - NAMED_TIES} more"
    return f"; {names}: indistinguishable here ({measure}); {rule}"


def fastest_within(rows: Sequence[Point], max_drop_db: float) -> Recommendation:
    goal = f"fastest within {max_drop_db:g} dB of fp32"
    fits = [row for row in measured(rows) if row.psnr_drop_db <= max_drop_db]
    if not fits:
        return Recommendation(goal, None, f"no measured configuration is within {max_drop_db:g} dB of fp32")
    fastest = min(fits, key=lambda row: (row.ms_per_mp, row.psnr_drop_db, row.key))
    best, tied = _among_ties(fits, fastest, speed_tie, lambda group: _simplest(group) if len(group) > 1 else fastest,
                             lambda row: (row.ms_per_mp, row.key))
    why = (f"{_spread_text(best)} at a drop of {signed_db(best.psnr_drop_db)}, the lowest ms/MP of {len(fits)} "
           f"configuration(s) within the bar"
           + _tie_text(best, tied, "end-to-end spreads overlap", "picked the smallest artifact, then the fewest threads"))
    return Recommendation(goal, best.key, why, [row.key for row in tied])


def best_under_budget(rows: Sequence[Point], budget_ms_per_mp: float | None) -> Recommendation:
    if budget_ms_per_mp is None:
        return Recommendation("best quality under a latency budget", None,
                              "no budget given (--budget-ms-per-mp)")
    goal = f"best quality under {budget_ms_per_mp:g} ms/MP"
    fits = [row for row in measured(rows) if row.ms_per_mp <= budget_ms_per_mp]
    if not fits:
        fastest = min(measured(rows), key=lambda row: row.ms_per_mp, default=None)
        extra = f"; the fastest takes {fastest.ms_per_mp:.0f} ms/MP" if fastest else ""
        return Recommendation(goal, None, f"no measured configuration runs within {budget_ms_per_mp:g} ms/MP{extra}")
    top = min(fits, key=lambda row: (row.psnr_drop_db, row.ms_per_mp, row.key))
    # Equal quality: the fastest of them, by median.
    best, tied = _among_ties(fits, top, quality_tie,
                             lambda group: min(group, key=lambda row: (row.ms_per_mp, row.psnr_drop_db, row.key)),
                             lambda row: (row.psnr_drop_db, row.key))
    why = (f"{best.psnr_db:.2f} dB (drop {signed_db(best.psnr_drop_db)}) at {_spread_text(best)}, the best of "
           f"{len(fits)} configuration(s) within the budget"
           + _tie_text(best, tied, f"drops within {QUALITY_TIE_DB:g} dB", "picked the fastest"))
    if spread(best)[1] > budget_ms_per_mp:
        why += f"; its slowest run took {spread(best)[1]:.0f} ms/MP, above the budget"
    return Recommendation(goal, best.key, why, [row.key for row in tied])


def smallest_within(rows: Sequence[Point], max_drop_db: float) -> Recommendation:
    goal = f"smallest artifact within {max_drop_db:g} dB of fp32"
    fits = [row for row in measured(rows) if row.psnr_drop_db <= max_drop_db and row.artifact_mb is not None]
    if not fits:
        return Recommendation(goal, None, f"no measured configuration with a size is within {max_drop_db:g} dB")
    smallest = min(fits, key=lambda row: (row.artifact_mb, row.ms_per_mp, row.key))
    # Sizes within a few percent: the fastest of them, so that bytes never cost a real slowdown.
    best, tied = _among_ties(fits, smallest, size_tie,
                             lambda group: min(group, key=lambda row: (row.ms_per_mp, row.artifact_mb, row.key)),
                             lambda row: (row.artifact_mb, row.key))
    why = (f"{best.artifact_mb:.2f} MB at a drop of {signed_db(best.psnr_drop_db)} ({_spread_text(best)}), the "
           f"smallest of {len(fits)} within the bar"
           + _tie_text(best, tied, f"sizes within {SIZE_TIE_FRACTION:.0%}", "picked the fastest"))
    return Recommendation(goal, best.key, why, [row.key for row in tied])


def recommend(rows: Sequence[Point], budget_ms_per_mp: float | None, fast_drop_db: float = 0.1,
              small_drop_db: float = 0.2) -> list[Recommendation]:
    """The three goals, in order, over one machine's rows."""
    return [fastest_within(rows, fast_drop_db), best_under_budget(rows, budget_ms_per_mp),
            smallest_within(rows, small_drop_db)]
