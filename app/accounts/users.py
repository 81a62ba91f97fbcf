"""Users, passwords and API tokens. Passwords are argon2 hashes; tokens are stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.accounts.models import ApiToken, AuditEntry, Department, Role, User
from app.errors import DomainError
from app.territory.models import Station

_hasher = PasswordHasher()
# Roles whose scope is a station or a department: they cannot exist without one (an empty scope is nothing).
NEEDS = {"patrol": "station", "handler": "department", "station_chief": "station", "workstation": "workstation"}
TIER_OF = {"station_chief": ("joint_station",), "workstation": ("workstation",)}  # the station tier a role needs
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 8


class UserError(DomainError):
    """A user operation was refused; the message says why (422)."""

    status = 422
    error = "user_refused"


def roles(session: Session) -> list[Role]:
    """Every role."""
    return list(session.scalars(select(Role).order_by(Role.code)))


def add_user(
    session: Session, username: str, role: str, password: str, display_name: str | None = None,
    department_code: str | None = None, station_code: str | None = None, is_demo: bool = False,
    actor: str = "system",
) -> User:
    """Create a user; refuses unknown roles, taken names and short passwords."""
    _check_role(session, role, department_code, station_code)
    if not username or len(username) > 60 or any(ord(c) < 32 for c in username):
        raise UserError("a user name has 1 to 60 characters and no control characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise UserError(f"user {username!r} exists already")
    _check_password(password)
    user = User(
        username=username, display_name=display_name or username, password_hash=_hasher.hash(password),
        role=role, department_code=department_code, station_code=station_code, is_demo=is_demo,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.add", "user", user.id, after={"username": username, "role": role})
    return user


def _check_role(session: Session, role: str, department_code: str | None, station_code: str | None) -> None:
    """A known role, with the station or department its scope needs, which must exist."""
    known = {r.code for r in roles(session)}
    if role not in known:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(sorted(known))}")
    need = NEEDS.get(role)
    if need == "station" and not station_code:
        raise UserError(f"role {role} needs a station (--station CODE): its scope is the station's cases")
    if need == "workstation" and not station_code:
        raise UserError(f"role {role} needs a workstation (--workstation CODE): its scope is the workstation's cases")
    if need == "department" and not department_code:
        raise UserError(f"role {role} needs a department (--department CODE): its scope is the department's cases")
    tier = session.scalar(select(Station.tier).where(Station.code == station_code)) if station_code else None
    if station_code and tier is None:
        raise UserError(f"unknown {'workstation' if need == 'workstation' else 'station'} {station_code!r}")
    if tier is not None and role in TIER_OF and tier not in TIER_OF[role]:
        raise UserError(f"role {role} needs a {TIER_OF[role][0].replace('_', '-')} ({station_code} is a "
                        f"{tier.replace('_', '-')})")
    if department_code and session.scalar(select(Department.code).where(Department.code == department_code)) is None:
        raise UserError(f"unknown department {department_code!r}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")


def authenticate(session: Session, username: str, password: str, now: datetime | None = None) -> User | None:
    """The user when the password is right and the account is usable; counts failures and locks."""
    now = now or datetime.now(UTC)
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        _hasher.hash(password)  # same cost either way, so timing does not reveal names
        return None
    if user.locked_until and user.locked_until > now:
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            until = user.locked_until.isoformat()
            audit.record(session, "system", "user.locked", "user", user.id, after={"until": until})
        return None
    user.failed_logins = 0
    user.locked_until = None
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, username: str, actor: str = "system") -> str:
    """A new API token for a user; only its hash is kept, so it is shown once."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError(f"no user {username!r}")
    token = "nh_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token), prefix=token[:10]))
    audit.record(session, actor, "token.issue", "user", user.id, after={"prefix": token[:10]})
    return token


def revoke_tokens(session: Session, username: str, actor: str = "system") -> int:
    """Revoke every live token of a user."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError(f"no user {username!r}")
    now = datetime.now(UTC)
    live = [t for t in user.tokens if t.revoked_at is None]
    for token in live:
        token.revoked_at = now
    audit.record(session, actor, "token.revoke", "user", user.id, after={"revoked": len(live)})
    return len(live)


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning a live token."""
    return session.scalar(
        select(User).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None), User.active.is_(True))
    )


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: the user, or None (and whether the address is throttled)."""

    user: User | None
    throttled: bool = False


def sign_in(session: Session, username: str, password: str, address: str, limit: int) -> SignIn:
    """Check a password sign-in from an address, throttled per address; every attempt is audited."""
    if recent_failures(session, address) >= limit:
        return SignIn(None, throttled=True)
    user = authenticate(session, username, password)
    if user is None:
        audit.record(session, username[:80] or "?", "user.login_failed", "address", address)  # keeps the count
        return SignIn(None)
    audit.record(session, user.username, "user.login", "user", user.id)
    return SignIn(user)


def active_user(session: Session, user_id: object, session_version: object) -> User | None:
    """The user of a signed-in session, unless disabled since or the session was ended (sign-out elsewhere,
    a new password or role)."""
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return None
    user = session.get(User, user_id)
    if user is None or not user.active or user.session_version != session_version:
        return None
    return user


def demo_loaded(session: Session) -> bool:
    """Whether the demo accounts exist (pages then say it is a demo)."""
    return bool(session.scalar(select(exists().where(User.is_demo.is_(True)))))


def recent_failures(session: Session, address: str, minutes: int = 10) -> int:
    """Failed sign-ins from one address in the last minutes (from the audit log)."""
    since = datetime.now(UTC) - timedelta(minutes=minutes)
    return session.scalar(
        select(func.count()).select_from(AuditEntry)
        .where(AuditEntry.action == "user.login_failed", AuditEntry.entity == "address",
               AuditEntry.entity_id == address, AuditEntry.at >= since)
    )


def set_role(session: Session, username: str, role: str, actor: str = "system", station_code: str | None = None,
             department_code: str | None = None) -> User:
    """Change a user's role (and station or department), audited before and after; their sessions end."""
    user = _user(session, username)
    station = station_code or (user.station_code if NEEDS.get(role) in ("station", "workstation") else None)
    department = department_code or (user.department_code if NEEDS.get(role) == "department" else None)
    _check_role(session, role, department, station)
    before = {"role": user.role, "station": user.station_code, "department": user.department_code}
    user.role, user.station_code, user.department_code = role, station, department
    end_sessions(user)
    audit.record(session, actor, "user.role", "user", user.id, before=before,
                 after={"role": role, "station": station, "department": department})
    return user


def set_password(session: Session, username: str, password: str, actor: str = "system") -> User:
    """A new password (audited, the hash only); the user's sessions end."""
    user = _user(session, username)
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until = 0, None
    end_sessions(user)
    audit.record(session, actor, "user.password", "user", user.id)
    return user


def sign_out(session: Session, user_id: int) -> None:
    """Sign-out: every session of the user ends (audited)."""
    user = session.get(User, user_id)
    if user is not None:
        end_sessions(user)
        audit.record(session, user.username, "user.logout", "user", user.id)


def end_sessions(user: User) -> None:
    """Every signed-in session of the user stops working (sign-out, a new password, a new role, disabled)."""
    user.session_version = (user.session_version or 0) + 1


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError(f"no user {username!r}")
    return user


def set_active(session: Session, username: str, active: bool, actor: str = "system") -> User:
    """Enable or disable a user (audited); a disabled user's tokens and sessions stop working."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError(f"no user {username!r}")
    before = user.active
    user.active = active
    end_sessions(user)
    audit.record(session, actor, "user.active", "user", user.id, before={"active": before}, after={"active": active})
    return user
