"""Evidence photos of a case: what the reports showed and what the handler's feedback shows before and after the
work. Feedback photos arrive as files (multipart) and are stored with the case in the same transaction as the
feedback step: a refused step (stale version, wrong state, a file that is no image) leaves nothing behind."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.accounts.models import User
from app.cases import workflow
from app.cases.intake import MAX_ATTACHMENTS, Upload
from app.cases.models import Case, CaseEvent
from app.cases.scope import check_visible
from app.db import found
from app.errors import InputError, NotFound
from app.field.models import CasePhoto

STAGES = ("before", "after")


def photo_url(photo_id: int) -> str:
    """Where the bytes of a feedback photo are served."""
    return f"/api/v1/case-photos/{photo_id}"


def act(session: Session, user: User, case_id: int, action: str, version: int, fields: dict,
        uploads: dict[str, list[Upload]]) -> Case:
    """A field action on a case; for feedback the photos (by stage) are stored first and named in the step."""
    files = [(stage, up) for stage in STAGES for up in uploads.get(stage, [])]
    if files and action != "feedback":
        raise InputError("photos", f"photos go with feedback, not with {action}")
    if len(files) + len(fields.get("photos") or []) > MAX_ATTACHMENTS:
        raise InputError("photos", f"at most {MAX_ATTACHMENTS} photos per feedback")
    stored = []
    for stage, up in files:
        photo = CasePhoto(case_id=case_id, case_version=version + 1, stage=stage, filename=up.filename,
                          content_type=up.content_type, size_bytes=len(up.data), sha256=up.sha256, data=up.data,
                          uploaded_by=user.username)
        session.add(photo)
        stored.append(photo)
    if stored:
        if session.get(Case, case_id) is None:
            raise NotFound("case", case_id)
        session.flush()
        fields = {**fields, "photos": [*(fields.get("photos") or []), *(photo_url(p.id) for p in stored)]}
    case = workflow.act(session, user, case_id, action, version, fields)
    audit.record(session, user.username, f"case.{action}", "case", case_id, before={"version": version},
                 after={"state": case.state, "version": case.version,
                        "photos": {s: sum(1 for p in stored if p.stage == s) for s in STAGES}})
    return case


def photo(session: Session, user: User, photo_id: int) -> CasePhoto:
    """A feedback photo with its bytes, if the caller may see its case."""
    row = found(session, CasePhoto, photo_id, "case photo")
    check_visible(user, session.get(Case, row.case_id))
    return row


def evidence(session: Session, user: User, case_id: int) -> dict:
    """The photos of a case side by side: `before` (the reports' photos and the handler's before photos) and
    `after` (the handler's after photos), with the latest feedback (who, when, its note)."""
    case = found(session, Case, case_id, "case")
    check_visible(user, case)
    before = [{"url": a.url if a.kind == "url" else f"/api/v1/attachments/{a.id}", "source": "report",
               "report_id": r.id, "kind": a.kind} for r in case.reports for a in r.attachments]
    photos = session.scalars(select(CasePhoto).where(CasePhoto.case_id == case_id).order_by(CasePhoto.id)).all()
    own = {photo_url(p.id) for p in photos}
    for p in photos:
        item = {"url": photo_url(p.id), "source": "feedback", "kind": "upload", "case_version": p.case_version,
                "by": p.uploaded_by, "at": p.created_at.isoformat() if p.created_at else None}
        (before if p.stage == "before" else []).append(item)
    after = [{"url": photo_url(p.id), "source": "feedback", "kind": "upload", "case_version": p.case_version,
              "by": p.uploaded_by} for p in photos if p.stage == "after"]
    last = session.scalar(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "feedback")
                          .order_by(CaseEvent.id.desc()).limit(1))
    feedback = None
    if last is not None:
        links = [u for u in (last.data or {}).get("photos", []) if u not in own]  # photos given as links
        after += [{"url": u, "source": "feedback", "kind": "url"} for u in links]
        feedback = {"at": last.at.isoformat(), "by": last.actor, "note": last.note, "case_version": last.case_version,
                    "photos": len((last.data or {}).get("photos", []))}
    return {"case_id": case_id, "state": case.state, "version": case.version, "before": before, "after": after,
            "feedback": feedback, "has_feedback_photo": bool(feedback and feedback["photos"])}
