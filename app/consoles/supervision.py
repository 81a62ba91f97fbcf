"""What the supervisor page (督查督办) needs: its strings, the names of the methods and states of orders, and
whether the user's role may open, remind and close orders (app.cases.supervision.SUPERVISORS)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.cases.machine import ESCALATION_LEVELS
from app.cases.supervision import ANSWERERS, SUPERVISORS

PAGE_UI = {
    "title": _l("Supervision"), "near_due": _l("Near due"), "overdue": _l("Overdue"),
    "orders": _l("Supervision orders"), "order": _l("Order"), "case_no": _l("Case no."),
    "category": _l("Category"), "station": _l("Station"), "owner": _l("Owner"), "deadline": _l("Deadline"),
    "method": _l("Method"), "reason": _l("Reason"), "due_at": _l("Answer by"), "state": _l("State"),
    "created": _l("Opened"), "note": _l("Note"), "open_order": _l("Open an order"), "submit": _l("Submit"),
    "cancel": _l("Cancel"), "history": _l("History"), "none": _l("None"), "all": _l("All"),
    "answer": _l("Answer"), "remind": _l("Remind"), "close": _l("Close the order"), "opened": _l("Opened"),
    "loading": _l("Loading…"), "escalation": _l("Escalation level"),
    "order_opened": _l("Order opened"), "automatic": _l("opened by the schedule"), "back": _l("Back to the lists"),
    "export": _l("Export (CSV)"), "reported": _l("Reported at"),
}
METHOD_LABELS = {"phone": _l("By phone"), "written": _l("In writing"), "on_site": _l("On site"),
                 "meeting": _l("At a meeting"), "interview": _l("By interview")}
ORDER_STATES = {"open": _l("Being supervised"), "answered": _l("Answered"), "closed": _l("Concluded")}


def script_data(role: str, lang: str = "zh") -> dict:
    """The page's extra data for its script."""
    return {
        "escalation_levels": {str(k): v[0] if lang == "zh" else v[1] for k, v in ESCALATION_LEVELS.items()},
        "page": {k: str(v) for k, v in PAGE_UI.items()},
        "methods": {k: str(v) for k, v in METHOD_LABELS.items()},
        "order_states": {k: str(v) for k, v in ORDER_STATES.items()},
        "supervises": role in SUPERVISORS,
        "answers": role in ANSWERERS,
    }
