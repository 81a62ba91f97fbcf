"""The staff registry (统一编码) over HTTP: an XLSX import creates the people of the station teams and links a user
account, the export gives the same sheet back, a sheet with bad rows is refused cell by cell with nothing
imported, and the KPI rows per person carry the staff code."""

from __future__ import annotations

import io
import uuid

import pytest
import requests
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.tiers.models import Person
from tests import factories

HEADER = ["统一编码", "姓名", "联勤站", "部门", "职务", "证件号", "电话", "培训记录", "配发装备", "账号"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(rows) -> bytes:
    book = Workbook()
    book.active.append(HEADER)
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def admin(make_user):
    return {"Authorization": f"Bearer {make_user('admin')[2]}"}


def count(app) -> int:
    with app.extensions["db"].transaction() as s:
        return s.scalar(select(func.count()).select_from(Person))


def test_import_export_and_kpi_per_person(app, live_server, admin, make_user, spots):
    tag = uuid.uuid4().hex[:6].upper()
    member = make_user("patrol", station_code="JS-002", display_name="申港巡查员周")[0]
    sheet = workbook([
        [f"JS002-WG-{tag}", "周巡查", "JS-002", "WG", "网格巡查员", "沪城管0001", "13800000001",
         "2026-03-01 网格巡查岗前培训; 2026-06-15 防汛应急演练", "执法记录仪; 对讲机", member],
        [f"JS002-GA-{tag}", "陈警官", "JS-002", "GA", "社区民警", "警0002", "13800000002", "", "警务通", None],
    ])
    answer = requests.post(f"{live_server}/api/v1/people.xlsx", headers={**admin, "Content-Type": XLSX},
                           data=sheet, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"created": 2, "updated": 0}
    listed = requests.get(f"{live_server}/api/v1/people?station=JS-002", headers=admin, timeout=30).json()["people"]
    zhou = next(p for p in listed if p["code"] == f"JS002-WG-{tag}")
    assert zhou["training"] == [{"date": "2026-03-01", "course": "网格巡查岗前培训"},
                                {"date": "2026-06-15", "course": "防汛应急演练"}]
    assert zhou["equipment"] == ["执法记录仪", "对讲机"] and zhou["username"] == member
    exported = requests.get(f"{live_server}/api/v1/people.xlsx?station=JS-002", headers=admin, timeout=30)
    rows = list(load_workbook(io.BytesIO(exported.content)).active.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    again = next(r for r in rows if r[0] == f"JS002-WG-{tag}")
    assert again[7] == "2026-03-01 网格巡查岗前培训; 2026-06-15 防汛应急演练" and again[9] == member
    # the exported sheet imports back as updates
    back = requests.post(f"{live_server}/api/v1/people.xlsx", headers=admin, timeout=30,
                         files={"file": ("people.xlsx", exported.content, XLSX)})
    assert back.status_code == 200 and back.json()["created"] == 0 and back.json()["updated"] >= 2
    # the person's handled case counts in the KPI row of the person, named by the staff code
    case = factories.case_in_state(app, "in_progress", spots("JS-002"), category="06010")
    factories.act(app, case.id, member, "feedback", note="已处理")
    rows = requests.get(f"{live_server}/api/v1/kpi?by=person", headers=admin, timeout=30).json()["rows"]
    row = next(r for r in rows if r["group"] == member)
    assert row["staff_code"] == f"JS002-WG-{tag}" and row["staff_station"] == "JS-002"


def test_bad_rows_are_reported_by_row_and_column_and_nothing_is_imported(app, live_server, admin):
    tag = uuid.uuid4().hex[:6].upper()
    before = count(app)
    sheet = workbook([
        [f"JS001-GA-{tag}", "好的一行", "JS-001", "GA", None, None, None, None, None, None],
        [f"JS001-XX-{tag}", "站不存在", "JS-404", "GA", None, None, None, None, None, None],
        ["bad code", "编码不合规", "JS-001", None, None, None, None, None, None, None],
        [f"JS001-GA-{tag}", "重复编码", "JS-001", "NOPE", None, None, None, "2026-13-01 培训", None, "no_such_user"],
    ])
    answer = requests.post(f"{live_server}/api/v1/people.xlsx", headers={**admin, "Content-Type": XLSX},
                           data=sheet, timeout=30)
    assert answer.status_code == 422
    body = answer.json()
    cells = {(e["row"], e["column"]) for e in body["errors"]}
    assert cells == {(3, "联勤站"), (4, "统一编码"), (5, "统一编码"), (5, "部门"), (5, "培训记录"), (5, "账号")}
    assert "nothing imported" in body["message"] and "未导入" in body["message_zh"]
    assert count(app) == before
    junk = requests.post(f"{live_server}/api/v1/people.xlsx", headers={**admin, "Content-Type": XLSX},
                         data=b"not a workbook", timeout=30)
    assert junk.status_code == 422 and junk.json()["field"] == "body"
    no_header = workbook([])
    book = load_workbook(io.BytesIO(no_header))
    book.active.delete_rows(1)
    book.active.append(["名字"])
    out = io.BytesIO()
    book.save(out)
    answer = requests.post(f"{live_server}/api/v1/people.xlsx", headers={**admin, "Content-Type": XLSX},
                           data=out.getvalue(), timeout=30)
    assert answer.status_code == 422
    assert {e["column"] for e in answer.json()["errors"]} == {"统一编码", "姓名", "联勤站"}
