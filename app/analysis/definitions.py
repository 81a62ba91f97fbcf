"""What every indicator and score part means, in English msgids that the catalogue translates (the reports page
through Flask-Babel, the bulletin and meeting packs through app.analysis.documents): one text for both."""

from __future__ import annotations

from collections.abc import Callable


def _l(text: str) -> str:
    """Marks a msgid for `pybabel extract -k _l`; translated where it is shown."""
    return text


PERIOD = _l("The cases of a period are the cases whose first report falls in it (Beijing dates, from the first day "
            "to the day before the end), whatever their state now, rejected and void cases included. The tables, the "
            "trend, the map and the lists of cases all use this definition. A table by department counts the cases "
            "a department owns; the map counts the cases with a grid cell (a case outside the town grid has none). "
            "Counts are the whole town's; a list of cases shows the cases you may see.")

NAMES = {
    "cases": _l("Cases"), "reports": _l("Reports"), "valid_reports": _l("Valid reports"), "filed": _l("Filed"),
    "filing_rate": _l("Filing rate"), "dispatched": _l("Dispatched"), "on_time_dispatch_rate": _l("On-time dispatch"),
    "handled": _l("Handled"), "on_time_disposal_rate": _l("On-time disposal"), "closed": _l("Closed"),
    "closure_rate": _l("Closure rate"), "on_time_closure_rate": _l("On-time closure"),
    "overdue_open": _l("Open overdue"), "rework_rate": _l("Rework rate"), "ratings": _l("Ratings"),
    "satisfaction_mean": _l("Satisfaction"), "satisfaction_rate": _l("Satisfaction rate"), "score": _l("Score"),
    "grade": _l("Grade"), "self_handled": _l("Self-handled"), "self_handled_share": _l("Self-handled share"),
    "evaluator_ratings": _l("Evaluators' ratings"), "evaluator_rating_mean": _l("Evaluators' rating"),
}

INDICATORS = {
    "cases": _l("Cases of the period (first reported in it) that belong to the unit."),
    "reports": _l("Reports of those cases, through every channel (several reports of one problem make one case)."),
    "valid_reports": _l("Reports of the cases that were filed."),
    "filed": _l("Cases filed (立案) after verification."),
    "filing_rate": _l("Filed cases / cases decided (filed or not filed)."),
    "dispatched": _l("Cases dispatched to an owner."),
    "on_time_dispatch_rate": _l("Cases dispatched within the dispatch limit / cases dispatched."),
    "handled": _l("Cases whose owner reported the result (and no rework was asked since)."),
    "on_time_disposal_rate": _l("Cases handled by their deadline / (cases handled + open cases past their deadline "
                                "not yet handled): leaving an overdue case open counts as late."),
    "closed": _l("Cases checked and closed."),
    "closure_rate": _l("Closed cases / filed cases."),
    "on_time_closure_rate": _l("Cases closed on time / (cases closed + open cases past their deadline)."),
    "overdue_open": _l("Cases still open and past their deadline when the figures were computed."),
    "rework_rate": _l("Cases sent back for rework at least once / cases handled at least once."),
    "ratings": _l("Cases with a satisfaction rating."),
    "satisfaction_mean": _l("Mean satisfaction rating (1 to 5)."),
    "satisfaction_rate": _l("Ratings of 4 or 5 / ratings."),
    "score": _l("Weighted sum of the score parts x 100 (weights below); a part with nothing to measure leaves the "
                "score to the others."),
    "grade": _l("Grade of the score; a unit with fewer cases than the minimum is not graded."),
    "self_handled": _l("Cases a village or residence workstation handled and closed itself (微循环)."),
    "self_handled_share": _l("Self-handled cases / cases."),
    "evaluator_ratings": _l("Closed cases rated by outside evaluators (人大代表, 政协委员 and other reviewers)."),
    "evaluator_rating_mean": _l("Mean of the outside evaluators' ratings (1 to 5)."),
}

PARTS = {
    "filed_count": _l("Filed cases against the unit with the most filed cases"),
    "closure_rate": _l("Closure rate"), "on_time_disposal_rate": _l("On-time disposal rate"),
    "no_rework_rate": _l("1 - rework rate"), "on_time_dispatch_rate": _l("On-time dispatch rate"),
    "on_time_closure_rate": _l("On-time closure rate"), "filing_rate": _l("Filing rate"),
    "satisfaction_rate": _l("Satisfaction rate"), "evaluator_rating": _l("Evaluators' rating / 5"),
}

NOT_GRADED = _l("Not graded")
MIN_CASES = _l("A unit is graded from %(n)s cases in the period; below that it is scored but not graded.")


def translated(gettext: Callable[[str], str]) -> dict:
    """Every text above through `gettext`: {period, names, indicators, parts, not_graded, min_cases_text}."""
    return {"period": gettext(PERIOD), "names": {k: gettext(v) for k, v in NAMES.items()},
            "indicators": {k: gettext(v) for k, v in INDICATORS.items()},
            "parts": {k: gettext(v) for k, v in PARTS.items()}, "not_graded": gettext(NOT_GRADED),
            "min_cases_text": gettext(MIN_CASES)}
