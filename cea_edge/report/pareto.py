"""The Pareto front and the recommendations of the trade-off report: pure functions of rows.

A row is one configuration (target, precision, tile, threads). Its speed is ``ms_per_mp`` (end to
end on the report's photo, global-context mode) and its cost in quality is ``psnr_drop_db`` (the
fp32 model's best aio-synth PSNR over the report's tiles minus the row's: precision, runtime and
tile size all count, so the drops of all rows share one reference and order them by quality). Rows lacking either (Core ML on
Linux, imported profiles without quality) take no part; the functions say so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


def signed_db(value: float) -> str:
    """+0.072 dB; a rounding-sized negative drop prints as +0.000, not -0.000."""
    return f"{round(value, 3) + 0.0:+.3f} dB"


class Point(Protocol):
    key: str
    ms_per_mp: float | None
    psnr_drop_db: float | None
    psnr_db: float | None
    artifact_mb: float | None


def measured(rows: Sequence[Point]) -> list[Point]:
    """Rows with both a speed and a quality drop."""
    return [row for row in rows if row.ms_per_mp is not None and row.psnr_drop_db is not None]


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


def fastest_within(rows: Sequence[Point], max_drop_db: float) -> Recommendation:
    goal = f"fastest within {max_drop_db:g} dB of fp32"
    fits = [row for row in measured(rows) if row.psnr_drop_db <= max_drop_db]
    if not fits:
        return Recommendation(goal, None, f"no measured configuration is within {max_drop_db:g} dB of fp32")
    best = min(fits, key=lambda row: (row.ms_per_mp, row.psnr_drop_db, row.key))
    return Recommendation(goal, best.key, f"{best.ms_per_mp:.0f} ms/MP at a drop of {signed_db(best.psnr_drop_db)}, "
                                          f"the lowest ms/MP of {len(fits)} configuration(s) within the bar")


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
    best = min(fits, key=lambda row: (row.psnr_drop_db, row.ms_per_mp, row.key))
    return Recommendation(goal, best.key, f"{best.psnr_db:.2f} dB (drop {signed_db(best.psnr_drop_db)}) at "
                                          f"{best.ms_per_mp:.0f} ms/MP, the best of {len(fits)} configuration(s) "
                                          "within the budget")


def smallest_within(rows: Sequence[Point], max_drop_db: float) -> Recommendation:
    goal = f"smallest artifact within {max_drop_db:g} dB of fp32"
    fits = [row for row in measured(rows) if row.psnr_drop_db <= max_drop_db and row.artifact_mb is not None]
    if not fits:
        return Recommendation(goal, None, f"no measured configuration with a size is within {max_drop_db:g} dB")
    best = min(fits, key=lambda row: (row.artifact_mb, row.ms_per_mp, row.key))
    return Recommendation(goal, best.key, f"{best.artifact_mb:.2f} MB at a drop of {signed_db(best.psnr_drop_db)} "
                                          f"({best.ms_per_mp:.0f} ms/MP), the smallest of {len(fits)} within the bar")


def recommend(rows: Sequence[Point], budget_ms_per_mp: float | None, fast_drop_db: float = 0.1,
              small_drop_db: float = 0.2) -> list[Recommendation]:
    """The issue's three goals, in order."""
    return [fastest_within(rows, fast_drop_db), best_under_budget(rows, budget_ms_per_mp),
            smallest_within(rows, small_drop_db)]
