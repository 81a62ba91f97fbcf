"""Illustrative duty office and command data for demo databases: the duty staff (a duty leader rota, shift
leaders, 24 platform information officers, station duty officers, a commander), a month's roster for every
position, a resources registry at the stations and two depots, and an illustrative population per residential
compound (from its buildings in the illustrative addresses). Deterministic; run again, it adds nothing twice."""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import users
from app.accounts.models import User
from app.cases.worktime import BEIJING
from app.command import duty
from app.command.models import CompoundPopulation, DutyAssignment, DutyPosition, Resource
from app.territory.models import Address, Station

PASSWORD = "demo-pass-2026"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余于杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志飞雪梅琳婷浩宇晨欣怡然"
# (kind, name, quantity, unit) at every joint-duty station; the depots hold the heavy kit
STATION_KIT = [("team", "应急抢险队", 12, "人"), ("pump", "移动排水泵", 4, "台"), ("sandbags", "防汛沙袋", 800, "袋"),
               ("vehicle", "应急指挥车", 1, "辆"), ("lighting", "移动照明灯", 6, "套")]
DEPOTS = [("DEPOT-N", "临港防汛物资仓库（北）", 121.915, 30.935,
           [("pump", "大功率排水泵车", 2, "辆"), ("sandbags", "防汛沙袋", 5000, "袋"), ("boat", "冲锋舟", 3, "艘"),
            ("generator", "移动发电机", 4, "台")]),
          ("DEPOT-S", "芦潮港应急物资储备点", 121.862, 30.862,
           [("pump", "移动排水泵", 6, "台"), ("supplies", "救灾帐篷", 40, "顶"), ("team", "消防志愿队", 20, "人")])]


def _name(i: int) -> str:
    return SURNAMES[i * 7 % len(SURNAMES)] + GIVEN[i * 11 % len(GIVEN)] + (GIVEN[i * 5 % len(GIVEN)] if i % 3 else "")


def _person(session: Session, username: str, role: str, display: str, station: str | None = None) -> str:
    if session.scalar(select(User.id).where(User.username == username)) is None:
        users.add_user(session, username, role, PASSWORD, display, station_code=station, is_demo=True,
                       actor="demo-seed")
    return username


def staff(session: Session) -> dict[str, list[str]]:
    """The duty staff per position (made once)."""
    stations = [s for s in session.scalars(select(Station.code).where(Station.tier == "joint_station")
                                           .order_by(Station.code))]
    people: dict[str, list[str]] = {
        "LEADER": [_person(session, f"duty-leader-{i}", "leader", f"{_name(i)}（带班领导·演示）") for i in range(1, 5)],
        "SHIFT": [_person(session, f"duty-shift-{i}", "shift_leader", f"{_name(10 + i)}（值班长·演示）")
                  for i in range(1, 5)],
    }
    officers = [_person(session, f"info-{i:02d}", "duty_officer", f"{_name(20 + i)}（信息员·演示）")
                for i in range(1, 25)]
    people["INFO-HOTLINE"], people["INFO-VIDEO"], people["INFO-GRID"] = officers[:10], officers[10:19], officers[19:]
    for code in stations:
        people[f"STN-{code}"] = [_person(session, f"duty-{code.lower()}-{i}", "duty_officer",
                                         f"{_name(50 + i + len(code) * 3 + int(code[-1]) * 4)}（站值班员·演示）", code)
                                 for i in range(1, 4)]
    _person(session, "commander", "commander", "应急指挥长（演示）")
    return people


def roster(session: Session, month: str | None = None) -> int:
    """The month's roster (this Beijing month by default) for every position that has none yet."""
    month = month or datetime.now(BEIJING).strftime("%Y-%m")
    first, nxt = duty.month_bounds(month)
    made = 0
    for position, names in staff(session).items():
        if session.get(DutyPosition, position) is None:
            continue
        planned = session.scalar(select(func.count()).select_from(DutyAssignment).where(
            DutyAssignment.position_code == position, DutyAssignment.day >= first, DutyAssignment.day < nxt))
        if not planned:
            made += duty.plan_month(session, "demo-seed", position, month, names)
    return made


def resources(session: Session) -> int:
    """The illustrative resources registry (made once)."""
    if session.scalar(select(func.count()).select_from(Resource)):
        return 0
    rows = []
    for station, where in session.execute(select(Station.code, Station.location).where(Station.tier == "joint_station")
                                          .order_by(Station.code)).all():
        for n, (kind, name, qty, unit) in enumerate(STATION_KIT):
            rows.append(Resource(code=f"{station}-{kind.upper()}-{n}", kind=kind, name=name, quantity=qty, unit=unit,
                                 station_code=station, illustrative=True, geom=where))
    for code, depot, lon, lat, kit in DEPOTS:
        for n, (kind, name, qty, unit) in enumerate(kit):
            rows.append(Resource(code=f"{code}-{kind.upper()}-{n}", kind=kind, name=name, quantity=qty, unit=unit,
                                 depot=depot, illustrative=True, geom=from_shape(Point(lon, lat), srid=4326)))
    session.add_all(rows)
    return len(rows)


def populations(session: Session) -> int:
    """An illustrative population per compound: its buildings x 60-140 households (from a hash of its name) x 2.6."""
    rows = session.execute(select(Address.compound, func.count()).where(
        Address.kind == "building", Address.compound.is_not(None)).group_by(Address.compound)).all()
    made = 0
    for compound, buildings in rows:
        if session.get(CompoundPopulation, compound) is None:
            households = 60 + zlib.crc32(compound.encode()) % 81
            session.add(CompoundPopulation(compound=compound, population=round(buildings * households * 2.6),
                                           illustrative=True))
            made += 1
    return made


def seed(session: Session, now: datetime | None = None) -> dict:
    """All of it (the roster of this Beijing month and the one before, so the first night is covered too)."""
    today = (now or datetime.now(BEIJING)).astimezone(BEIJING).date()
    before = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    made = roster(session, before) + roster(session, today.strftime("%Y-%m"))
    return {"populations": populations(session), "resources": resources(session), "assignments": made}
