"""Evaluation (考核评价): indicators and scores per group from plain per-case facts.

A case's facts: `group`, `reports` (how many reports it has), `filed`, `decided` (filed or not
filed), `dispatched`, `dispatch_on_time`, `handled` (it has a current feedback), `handled_on_time`,
`closed`, `closed_on_time`, `reworked` (returned for rework at least once), `satisfaction`
(1-5 or None), `state`, `overdue_open` (still open and past its deadline when evaluated), `id`, and from the
tiers `self_handled` (closed by a workstation itself) and `evaluator_rating` (the mean of outside evaluators'
ratings, 1-5, or None). Rates are shares (0..1) of the cases the indicator applies to, None when there are none.
The on-time rates count the open overdue cases as late: closed on time / (closed + open overdue), and handled on
time / (handled + open overdue not yet handled). A group with fewer than `min_cases` cases is scored
but not graded (`graded` false, `grade` None). The score is a weighted sum of rates x 100 (weights
and grades are settings); `filed_count` scores each group's filed cases against the group with the most.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

INDICATORS = (
    "reports", "valid_reports", "filed", "filing_rate", "dispatched", "on_time_dispatch_rate", "handled",
    "on_time_disposal_rate", "closed", "closure_rate", "on_time_closure_rate", "rework_rate", "ratings",
    "satisfaction_mean", "satisfaction_rate", "self_handled", "self_handled_share", "evaluator_ratings",
    "evaluator_rating_mean",
)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _late_open(c: dict) -> bool:
    return bool(c.get("overdue_open"))


# indicator -> (which cases count, which cases it is a share of (None for a count))
MEMBERS = {
    "cases": (lambda c: True, None),
    "reports": (lambda c: True, None),
    "filed": (lambda c: c["filed"], None),
    "valid_reports": (lambda c: c["filed"], None),
    "filing_rate": (lambda c: c["filed"], lambda c: c["decided"]),
    "dispatched": (lambda c: c["dispatched"], None),
    "on_time_dispatch_rate": (lambda c: c["dispatched"] and c["dispatch_on_time"], lambda c: c["dispatched"]),
    "handled": (lambda c: c["handled"], None),
    "on_time_disposal_rate": (lambda c: c["handled"] and c["handled_on_time"],
                              lambda c: c["handled"] or _late_open(c)),
    "closed": (lambda c: c["closed"], None),
    "closure_rate": (lambda c: c["closed"], lambda c: c["filed"]),
    "on_time_closure_rate": (lambda c: c["closed"] and c["closed_on_time"], lambda c: c["closed"] or _late_open(c)),
    "overdue_open": (_late_open, None),
    "rework_rate": (lambda c: c["reworked"], lambda c: c["handled"] or c["reworked"]),
    "ratings": (lambda c: c["satisfaction"] is not None, None),
    "satisfaction_rate": (lambda c: c["satisfaction"] is not None and c["satisfaction"] >= 4,
                          lambda c: c["satisfaction"] is not None),
    "self_handled": (lambda c: bool(c.get("self_handled")), None),
    "self_handled_share": (lambda c: bool(c.get("self_handled")), lambda c: True),
    "evaluator_ratings": (lambda c: c.get("evaluator_rating") is not None, None),
}


def members(cases: list[dict], indicator: str) -> tuple[list, list | None]:
    """The ids of the cases an indicator counts (its numerator) and, for a rate, of those it is a share of."""
    part, whole = MEMBERS[indicator]
    return [c["id"] for c in cases if part(c)], None if whole is None else [c["id"] for c in cases if whole(c)]


def indicators(cases: list[dict]) -> dict:
    """The indicators of one group of cases."""
    filed = [c for c in cases if c["filed"]]
    dispatched = [c for c in cases if c["dispatched"]]
    handled = [c for c in cases if c["handled"]]
    closed = [c for c in cases if c["closed"]]
    ever_handled = [c for c in cases if c["handled"] or c["reworked"]]
    ratings = [c["satisfaction"] for c in cases if c["satisfaction"] is not None]
    reviewed = [c["evaluator_rating"] for c in cases if c.get("evaluator_rating") is not None]
    self_handled = sum(1 for c in cases if c.get("self_handled"))
    late_unhandled = sum(1 for c in cases if _late_open(c) and not c["handled"])
    late_open = sum(1 for c in cases if _late_open(c))
    return {
        "cases": len(cases),
        "reports": sum(c["reports"] for c in cases),
        "valid_reports": sum(c["reports"] for c in filed),
        "filed": len(filed),
        "filing_rate": _rate(len(filed), sum(1 for c in cases if c["decided"])),
        "dispatched": len(dispatched),
        "on_time_dispatch_rate": _rate(sum(1 for c in dispatched if c["dispatch_on_time"]), len(dispatched)),
        "handled": len(handled),
        "on_time_disposal_rate": _rate(sum(1 for c in handled if c["handled_on_time"]), len(handled) + late_unhandled),
        "closed": len(closed),
        "closure_rate": _rate(len(closed), len(filed)),
        "on_time_closure_rate": _rate(sum(1 for c in closed if c["closed_on_time"]), len(closed) + late_open),
        "overdue_open": late_open,
        "rework_rate": _rate(sum(1 for c in ever_handled if c["reworked"]), len(ever_handled)),
        "ratings": len(ratings),
        "satisfaction_mean": round(sum(ratings) / len(ratings), 3) if ratings else None,
        "satisfaction_rate": _rate(sum(1 for r in ratings if r >= 4), len(ratings)),
        "self_handled": self_handled,
        "self_handled_share": _rate(self_handled, len(cases)),
        "evaluator_ratings": len(reviewed),
        "evaluator_rating_mean": round(sum(reviewed) / len(reviewed), 3) if reviewed else None,
    }


def evaluate(cases: Iterable[dict], weights: dict, grades: list, min_cases: int = 0) -> list[dict]:
    """Indicators, score and grade per group, graded groups best score first, then the groups with too few cases
    to be graded (groups without cases are absent)."""
    groups: dict = defaultdict(list)
    for c in cases:
        groups[c["group"]].append(c)
    rows = [{"group": g, **indicators(cs)} for g, cs in groups.items()]
    most_filed = max((r["filed"] for r in rows), default=0)
    for r in rows:
        parts = {
            "filed_count": r["filed"] / most_filed if most_filed else 0.0,
            "closure_rate": r["closure_rate"],
            "on_time_disposal_rate": r["on_time_disposal_rate"],
            "no_rework_rate": None if r["rework_rate"] is None else 1 - r["rework_rate"],
            "on_time_dispatch_rate": r["on_time_dispatch_rate"],
            "on_time_closure_rate": r["on_time_closure_rate"],
            "filing_rate": r["filing_rate"],
            "satisfaction_rate": r["satisfaction_rate"],
            "evaluator_rating": None if r["evaluator_rating_mean"] is None else r["evaluator_rating_mean"] / 5,
        }
        used = {k: w for k, w in weights.items() if w and parts.get(k) is not None}
        total = sum(used.values())
        # a rate with nothing to measure (no case handled yet) leaves the score to the other parts
        r["score"] = round(100 * sum(parts[k] * w for k, w in used.items()) / total, 2) if total else None
        r["graded"] = r["cases"] >= min_cases and r["score"] is not None
        r["grade"] = grade(r["score"], grades) if r["graded"] else None
    rows.sort(key=lambda r: (not r["graded"], -(r["score"] if r["score"] is not None else -1), str(r["group"])))
    for rank, r in enumerate(rows, 1):
        r["rank"] = rank if r["graded"] else None
    return rows


def grade(score: float | None, grades: list) -> str | None:
    """The first grade whose lower bound the score reaches (grades sorted high to low)."""
    if score is None:
        return None
    for name, low in sorted(grades, key=lambda g: -g[1]):
        if score >= low:
            return name
    return None
