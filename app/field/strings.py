"""The field app's strings, through Flask-Babel (Chinese by default); the page hands them to app/static/field.js."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

FIELD_UI = {
    "title": _l("Field app"), "route": _l("Route"), "tasks": _l("Tasks"), "map": _l("Map"), "report": _l("Report"),
    "outbox": _l("Outbox"), "route_today": _l("Today's route"), "no_route": _l("No route planned for today"),
    "next_stop": _l("Next stop"), "stop": _l("Stop"), "visited": _l("Visited"), "not_visited": _l("Not visited yet"),
    "mark_visited": _l("Mark as visited"), "navigate": _l("Navigate"), "on_map": _l("Show on map"),
    "no_address": _l("No address nearby"), "far_from_track": _l("Visited far from your track"),
    "no_track": _l("No position recorded for this visit"), "all_visited": _l("Every stop visited"),
    "my_tasks": _l("My tasks"), "no_tasks": _l("No cases waiting for you"), "case": _l("Case"),
    "deadline": _l("Deadline"), "address": _l("Address"), "description": _l("Description"),
    "category": _l("Category"), "state": _l("State"), "photos_before": _l("Before the work"),
    "photos_after": _l("After the work"),
    "no_photo": _l("No photo"), "note": _l("Note"), "reason": _l("Reason"),
    "take_photo": _l("Take a photo"), "choose_photo": _l("Choose a photo"),
    "photo_before": _l("Photo before the work"), "photo_after": _l("Photo after the work"),
    "submit": _l("Submit"), "cancel": _l("Cancel"), "send_feedback": _l("Send the result"),
    "confirm_no_photo": _l("The result has no photo. Decide without evidence?"),
    "report_here": _l("Report a problem here"), "sent": _l("Sent"), "queued": _l("Saved on the phone: it is sent "
                                                                                 "when the network returns"),
    "waiting": _l("queued"), "state_waiting": _l("Waiting to be sent"),
    "outbox_empty": _l("Nothing waits to be sent"),
    "conflict": _l("Conflict: the case changed meanwhile"), "failed": _l("Refused"), "discard": _l("Discard"),
    "retry": _l("Send again"), "send_now": _l("Send now"), "offline": _l("Offline"), "online": _l("Online"),
    "kind_report": _l("Report"), "kind_visit": _l("Stop visited"), "kind_action": _l("Case action"),
    "kind_positions": _l("Positions"), "share_position": _l("On shift: share my position"),
    "position_hint": _l("Your position is sent to the operations center only while this is on."),
    "layers": _l("Layers"), "loading": _l("Loading…"), "error": _l("Something went wrong"),
    "cached_at": _l("Saved for offline use"), "my_location": _l("My location"), "locating": _l("Finding your "
                                                                                              "position…"),
    "sign_out": _l("Sign out"), "consoles": _l("Consoles"), "km": _l("km"), "minutes": _l("min"),
    "visited_at": _l("Visited at"), "stale": _l("Position older than 10 minutes"), "staff": _l("Field staff"),
    "track": _l("Track of the day"), "positions_layer": _l("Staff positions"), "show_track": _l("Show the track"),
    "gpx": _l("GPX"), "evidence": _l("Evidence"), "installed": _l("Ready offline"), "photo": _l("Photo"),
    "instructions": _l("Instructions from the command center"), "instruction": _l("Instruction"),
    "acknowledge": _l("Acknowledge"), "acknowledged": _l("Acknowledged"), "sent_by": _l("Sent by"),
    "chased": _l("Chased"), "kind_ack": _l("Acknowledgement"),
}

# the dispatcher console's staff positions layer (app/static/positions.js) and evidence (app/static/evidence.js)
CONSOLE_UI = {
    "positions_layer": _l("Staff positions"), "stale": _l("Position older than 10 minutes"),
    "minutes_ago": _l("min ago"), "show_track": _l("Track of the day"), "evidence": _l("Evidence"),
    "photos_before": _l("Before the work"), "photos_after": _l("After the work"), "no_photo": _l("No photo"),
    "confirm_no_photo": _l("The result has no photo. Decide without evidence?"),
}
