"""Leaders' outputs over HTTP: the monthly bulletins (archive page, PDF), the morning digest as PDF, the chronic
problems (list, map, control). Thin: the work is in app.analysis.bulletin, digest and chronic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Response, jsonify, render_template, request, url_for
from flask_babel import get_locale

from app import inputs
from app.accounts.auth import current_user, login_required, roles_required
from app.analysis import bulletin, chronic, digest, documents, kpi, packs
from app.analysis.views import _today_or, bp
from app.cases.worktime import BEIJING
from app.db import db
from app.errorhandlers import page

WRITERS = ("admin", "leader", "shift_leader")
CONTROLLERS = ("admin", "leader", "shift_leader", "supervisor")


def _lang() -> str:
    asked = request.args.get("lang")
    if asked in documents.LANGS:
        return asked
    return "en" if str(get_locale() or "zh") == "en" else "zh"


def _pdf(body: bytes, name: str) -> Response:
    return Response(body, mimetype="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


def _recent_months(count: int = 12) -> list[str]:
    month = datetime.now(UTC).astimezone(BEIJING).date().replace(day=1)
    out = []
    for _ in range(count):
        month = bulletin.previous_month(month)
        out.append(month.strftime("%Y-%m"))
    return out


@bp.get("/bulletins")
@login_required
@page("bulletins.html")
def bulletins_page() -> str:
    """The archive of monthly bulletins, and the last twelve months to open (made on demand)."""
    session, lang = db.session(), _lang()
    today = datetime.now(UTC).astimezone(BEIJING).date()
    return render_template("bulletins.html", stored=bulletin.listing(session), months=_recent_months(), error=None,
                           may_make=current_user().role in WRITERS, **packs.choices(session, lang),
                           topic_from=(today - timedelta(days=14)).isoformat(),
                           topic_to=(today + timedelta(days=1)).isoformat())


@bp.get("/api/v1/bulletins")
@login_required
def bulletins_json() -> Response:
    """The stored bulletins, newest month first."""
    return jsonify(bulletins=bulletin.listing(db.session()))


@bp.get("/api/v1/bulletins/<month>.pdf")
@login_required
def bulletin_pdf(month: str) -> Response:
    """The bulletin of a month that is over (?lang=en for English), made and stored the first time it is asked."""
    first, lang, actor = bulletin.month_of(month), _lang(), current_user().username
    body = db.write(lambda s: bulletin.pdf_of(s, first, lang, actor))
    return _pdf(body, f"bulletin-{month}-{lang}.pdf")


@bp.get("/bulletins/<month>")
@login_required
def bulletin_html(month: str) -> str:
    """The bulletin of a month as an HTML page (the same document as the PDF, not stored)."""
    first = bulletin.month_of(month)
    bulletin.check_complete(first)
    lang = _lang()
    return documents.html("bulletin.html", lang, d=bulletin.build(db.session(), first, lang), web=True, base="",
                          pdf_url=url_for("analysis.bulletin_pdf", month=month, lang=lang))


@bp.post("/api/v1/bulletins/<month>")
@roles_required(*WRITERS)
def bulletin_make(month: str) -> tuple[Response, int]:
    """Make a month's bulletin again, in both languages (audited)."""
    first, actor = bulletin.month_of(month), current_user().username
    made = db.write(lambda s: [bulletin.generate(s, first, lang, actor).lang for lang in documents.LANGS])
    return jsonify(month=month, made=made), 201


@bp.get("/digest.pdf")
@login_required
def digest_pdf() -> Response:
    """The morning digest as PDF (?date=&span=day|week&lang=)."""
    lang = _lang()
    data = digest.build(db.session(), _today_or(), request.args.get("span", "day"), current_user(), lang=lang)
    return _pdf(documents.pdf("digest.html", lang, data=data, base=request.host_url.rstrip("/")),
                f"digest-{data['to']}.pdf")


@bp.get("/api/v1/chronic")
@login_required
def chronic_list() -> Response:
    """The chronic problems with their control, history and what the last weeks show of each."""
    return jsonify(problems=chronic.listing(db.session(), _lang()))


@bp.get("/api/v1/chronic.geojson")
@login_required
def chronic_map() -> Response:
    """The chronic problems as points for the map."""
    return jsonify(chronic.geojson(db.session(), _lang()))


@bp.post("/api/v1/chronic/<int:problem_id>")
@roles_required(*CONTROLLERS)
def chronic_control(problem_id: int) -> Response:
    """Put a chronic problem under control or review it: owner, plan, review date, status, note (audited)."""
    payload = inputs.json_body("ChronicControl")
    actor = current_user().username
    return jsonify(db.write(lambda s: chronic.control(s, actor, problem_id, payload)))


@bp.post("/api/v1/chronic/refresh")
@roles_required(*CONTROLLERS)
def chronic_refresh() -> Response:
    """Look for new chronic problems now (the scheduler does it every round)."""
    actor = current_user().username
    return jsonify(db.write(lambda s: chronic.refresh(s, actor)))




def _topic() -> tuple[dict, str]:
    a, lang = request.args, _lang()
    start, end = kpi.period(a.get("from"), a.get("to"))
    return packs.topic(db.session(), start, end, a.get("category") or None, a.get("area") or None, lang), lang


@bp.get("/packs/topic")
@login_required
def topic_pack() -> str:
    """The topic meeting's pack as a page: ?from=&to=&category=&area=&lang= (links to the cases, a PDF link)."""
    data, lang = _topic()
    return documents.html("topic.html", lang, d=data, web=True, base="",
                          pdf_url=url_for("analysis.topic_pack_pdf", **request.args))


@bp.get("/packs/topic.pdf")
@login_required
def topic_pack_pdf() -> Response:
    """The topic meeting's pack as PDF."""
    data, lang = _topic()
    return _pdf(documents.pdf("topic.html", lang, d=data, base=request.host_url.rstrip("/")), "topic.pdf")


def _quarterly() -> tuple[dict, str]:
    lang = _lang()
    return packs.quarterly(db.session(), request.args.get("quarter") or packs.current_quarter(), lang), lang


@bp.get("/packs/quarterly")
@login_required
def quarterly_pack() -> str:
    """The quarterly leadership meeting's pack as a page: ?quarter=YYYY-Qn&lang=."""
    data, lang = _quarterly()
    return documents.html("quarterly.html", lang, d=data, web=True, base="",
                          pdf_url=url_for("analysis.quarterly_pack_pdf", **request.args))


@bp.get("/packs/quarterly.pdf")
@login_required
def quarterly_pack_pdf() -> Response:
    """The quarterly leadership meeting's pack as PDF."""
    data, lang = _quarterly()
    return _pdf(documents.pdf("quarterly.html", lang, d=data, base=request.host_url.rstrip("/")),
                f"quarterly-{data['quarter']}.pdf")
