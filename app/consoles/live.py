"""What the console's live feed (app/static/live.js) needs: its strings, through Flask-Babel."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

LIVE_UI = {
    "alert_emergency": _l("New emergency case"), "alert_urgent": _l("New urgent case"),
    "alert_returned": _l("Case returned to the dispatcher"), "alert_red": _l("Case overdue"),
    "alert_supervised": _l("Supervision order"),
    "mute": _l("Mute alert sounds"), "unmute": _l("Turn alert sounds on"),
    "sound_on": _l("Sound on"), "sound_off": _l("Sound off"),
    "live_open": _l("Live"), "live_polling": _l("Live updates interrupted: refreshing every 15 s"),
    "open_case": _l("Open"), "dismiss": _l("Dismiss"), "alerts": _l("Alerts"),
    "changed_under_form": _l("This case was changed elsewhere: your action may be refused, then the case is "
                             "shown as it is now"),
}


def script_data() -> dict:
    """The live feed's strings for the console's script data."""
    return {"live_strings": {k: str(v) for k, v in LIVE_UI.items()}}
