"""What the dispatcher console's work queue and case panel need beyond the shared console strings: the queue's
strings, the Chinese action labels of the state machine, the names of history events, the actions (and their
fields) the user's role may take, for bulk actions, and whether the role may file a case."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.cases import machine
from app.cases.intake import REPORTERS

QUEUE_UI = {
    "cluster_worst": _l("A cluster takes the colour of the worst light inside it"),
    "panel_updated": _l("This case was changed elsewhere: shown as it is now"),
    "queue": _l("Work queue"), "saved_filters": _l("Saved filters…"), "save_filter": _l("Save these filters"),
    "all_cases": _l("All cases"), "case_reports": _l("Reports of this case"), "search": _l("Search"),
    "search_hint": _l("Case number, address, reporter phone or text"), "mine": _l("My tasks"),
    "col_id": _l("Case no."), "col_category": _l("Category"), "col_address": _l("Address"),
    "col_station": _l("Station"), "col_state": _l("State"), "col_light": _l("Deadline"), "col_age": _l("Age"),
    "select_page": _l("Select all on this page"), "select_case": _l("Select case"), "matched": _l("cases"),
    "prev_page": _l("Previous page"), "next_page": _l("Next page"), "no_cases": _l("No cases match"),
    "selected_n": _l("%n selected"), "bulk_action": _l("Action for the selected cases"), "bulk_go": _l("Act"),
    "bulk_none": _l("Select cases in the list first"), "bulk_results": _l("Results"),
    "bulk_suggested": _l("The dispatch rules' suggestion for each case"),
    "out_done": _l("done"), "out_stale": _l("changed meanwhile: reload and try again"),
    "out_refused": _l("not allowed in its state"), "out_not_found": _l("not found in your scope"),
    "out_forbidden": _l("not allowed for your role"), "out_invalid": _l("invalid input"),
    "out_missing": _l("missing: "),
    "light_green": _l("On time"), "light_yellow": _l("Near due"), "light_red": _l("Overdue"),
    "light_none": _l("No clock"), "age_min": _l("min"), "age_h": _l("h"), "age_d": _l("d"),
    "sorted_asc": _l("ascending"), "sorted_desc": _l("descending"), "sort_by": _l("Sort by"),
    "rule_default": _l("As the dispatch rules suggest"), "override_reason": _l("Another owner than the rules "
                                                                              "suggest needs a reason"),
}
EVENT_LABELS = {
    "opened": _l("Case reported"), "report_merged": _l("Report joined"), "report_split_off": _l("Report split off"),
    "opened_by_split": _l("Opened by a split"), "reassigned": _l("Moved by a boundary change"),
    "supervised": _l("Supervision order"), "fallback": _l("Fallback to the station"),
}


def script_data(role: str, lang: str, english_actions: dict) -> dict:
    """The extra console data: strings, event names, action labels (the state machine's Chinese labels in
    Chinese), the bulk actions of `role` with their fields, and whether the role may file a case."""
    actions = {name: (a.label_zh if lang == "zh" else str(english_actions.get(name, name)))
               for name, a in machine.ACTIONS.items()}
    mine = [name for name, a in machine.ACTIONS.items() if role in a.roles]
    return {
        "queue_strings": {k: str(v) for k, v in QUEUE_UI.items()},
        "events": {k: str(v) for k, v in EVENT_LABELS.items()},
        "actions": actions,
        "role_actions": {name: machine.form(name) for name in mine},
        "may_report": role in REPORTERS,
        "scoped": role in ("handler", "patrol"),
    }
