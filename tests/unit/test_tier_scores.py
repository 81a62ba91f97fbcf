"""The tiers' indicators in the scores: the self-handled count and share, the evaluators' mean rating, and the
evaluators' rating as a weighted part of the score when the weights name it."""

from __future__ import annotations

import pytest

from app.analysis import scores
from app.cases.rules import SCORE_PARTS


def fact(group: str, **more) -> dict:
    base = {"group": group, "reports": 1, "filed": True, "decided": True, "dispatched": True,
            "dispatch_on_time": True, "handled": True, "handled_on_time": True, "closed": True, "closed_on_time": True,
            "reworked": False, "satisfaction": None, "state": "closed", "self_handled": False,
            "evaluator_rating": None}
    return {**base, **more}


def test_self_handled_share_and_evaluators_mean():
    rows = scores.evaluate([fact("001", self_handled=True), fact("001"), fact("001", self_handled=True),
                            fact("001", evaluator_rating=4.0), fact("001", evaluator_rating=2.0)],
                           {"closure_rate": 1.0}, [["A", 90], ["E", 0]])
    (row,) = rows
    assert row["self_handled"] == 2 and row["self_handled_share"] == 0.4
    assert row["evaluator_ratings"] == 2 and row["evaluator_rating_mean"] == 3.0


def test_the_evaluators_rating_counts_in_the_score_when_weighted():
    weights = {"closure_rate": 0.5, "evaluator_rating": 0.5}
    assert "evaluator_rating" in SCORE_PARTS  # the setting kpi_weights accepts it
    rated, unrated = sorted(scores.evaluate([fact("A", evaluator_rating=3.0), fact("B")], weights,
                                            [["A", 90], ["E", 0]]), key=lambda r: r["group"])
    assert rated["score"] == pytest.approx(100 * (0.5 * 1.0 + 0.5 * 3 / 5))  # 80
    assert unrated["score"] == 100.0  # no review: the other parts carry the score
