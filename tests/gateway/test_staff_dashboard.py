"""The dashboard's API (GET /staff/api/dashboard, /staff/api/dashboard.csv) and page, against a real gateway
process whose two databases hold known figures (tests/gateway/dashboard_seed.py): roles, every chart's exact
numbers (Japan day boundaries, p50/p90 waits, capacity on holidays), refused ranges, CSV, audit, and that no
counseling text comes out."""

import csv
import io

import pytest

from common.booking import schedule
from tests.gateway.conftest import HTTP, GatewayProcess, staff_user
from tests.gateway.dashboard_seed import COUNSELING_TEXT, seed

RANGE = "from=2026-11-01&to=2026-11-07"


@pytest.fixture(scope="module")
def setup(engine, tmp_path_factory):
    directory = tmp_path_factory.mktemp("dashboard")
    assistant_url = seed(directory)
    process = GatewayProcess(engine.url, directory, ASSISTANT_DB_URL=assistant_url)
    sessions = {role: staff_user(process, f"db-{role}", role) for role in ("staff", "counselor", "supervisor", "admin")}
    yield process, sessions
    process.stop()


@pytest.fixture(scope="module")
def figures(setup):
    answer = setup[1]["supervisor"].get(f"/staff/api/dashboard?{RANGE}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_only_supervisors_and_admins(setup):
    process, sessions = setup
    assert HTTP.get(f"{process.url}/staff/api/dashboard").status_code == 401
    assert HTTP.get(f"{process.url}/staff/api/dashboard.csv?chart=volume").status_code == 401
    for role in ("staff", "counselor"):
        assert sessions[role].get(f"/staff/api/dashboard?{RANGE}").status_code == 403
        assert sessions[role].get(f"/staff/api/dashboard.csv?chart=volume&{RANGE}").status_code == 403
        assert sessions[role].get("/staff/dashboard").status_code == 403
    for role in ("supervisor", "admin"):
        assert sessions[role].get(f"/staff/api/dashboard?{RANGE}").status_code == 200
        page = sessions[role].get("/staff/dashboard")
        assert page.status_code == 200 and "chart.umd.min.js" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
    login = HTTP.get(f"{process.url}/staff/dashboard")
    assert login.status_code == 303 and login.headers["location"] == "/staff/login"


def test_the_chart_library_is_served_from_the_gateway(setup):
    process, _ = setup
    answer = HTTP.get(f"{process.url}/static/vendor/chart.umd.min.js")
    assert answer.status_code == 200 and "javascript" in answer.headers["content-type"]
    assert answer.text.startswith("/*!\n * Chart.js v4.")
    again = HTTP.get(f"{process.url}/static/vendor/chart.umd.min.js",
                     headers={"If-Modified-Since": answer.headers["last-modified"]})
    assert again.status_code == 304  # 200 KB once, then revalidated
    assert HTTP.get(f"{process.url}/static/vendor/chart.js.LICENSE.md").status_code == 200


def test_range_and_days(figures):
    assert figures["range"]["from"] == "2026-11-01" and figures["range"]["to"] == "2026-11-07"
    assert figures["range"]["days"][0] == "2026-11-01" and len(figures["range"]["days"]) == 7


def test_conversations_and_turns_per_day_and_channel(figures):
    """Japan days: 15:30 UTC on 11/1 is 0:30 on 11/2; 14:59 UTC on 10/31 is still 10/31. Notes and a
    sticker's media line are not turns; a counseling turn is counted (its text is not shown)."""
    web, line = figures["volume"]["channels"]["web"], figures["volume"]["channels"]["line"]
    assert web["turns"] == [0, 3, 1, 0, 0, 0, 0]
    assert web["conversations"] == [0, 2, 1, 0, 0, 0, 0]
    assert line["turns"] == [0, 1, 1, 0, 0, 0, 0]
    assert line["conversations"] == [0, 1, 1, 0, 0, 0, 0]


def test_how_questions_ended(figures):
    outcomes = figures["outcomes"]
    # turns the engine replied to: 3 on 11/2 (not the one a system line answered), 1 on 11/3 (not the counseling one)
    assert outcomes["engine_replied"] == [0, 3, 1, 0, 0, 0, 0]
    series = outcomes["series"]
    assert series["candidates"] == [0, 1, 0, 0, 0, 0, 0]  # もしかして, resolved or not: candidates were offered
    assert series["not_understood"] == [1, 1, 1, 0, 0, 0, 0]  # garbage_item on 11/1, fallbacks on 11/2 and 11/3
    assert series["out_of_scope"] == [0, 0, 1, 0, 0, 0, 0]
    assert series["answered"] == [0, 1, 0, 0, 0, 0, 0]  # 3 − 1 − 1 on 11/2; 1 − 2 is not below 0 on 11/3
    assert series["handoff"] == [0, 2, 2, 0, 1, 0, 1]  # general queue only, by the day the wait began


def test_top_unanswered_of_the_week(figures):
    top = figures["unanswered"]
    assert (top["from"], top["to"]) == ("2026-11-01", "2026-11-07")
    assert [(i["text"], i["kind"], i["count"]) for i in top["items"]] == [
        ("粗大ごみの出し方わからん", "fallback", 2), ("=江別市のごみ", "other_municipality", 1),
        ("謎の物体", "garbage_item", 1)]  # the resolved もしかして and the one before the range are left out


def test_handoffs_and_waits_per_queue(figures):
    """General waits 2, 10, 4, 8 (finished) and 6 (with a person now) minutes: nearest-rank p50 6, p90 10;
    one cancelled before anyone took it; 10/31 23:00 and 11/8 0:00 JST are outside."""
    queues = {q["queue"]: q for q in figures["handoffs"]["queues"]}
    assert queues["general"] == {"queue": "general", "handoffs": 6, "taken": 5, "untaken": 1, "waiting": 0,
                                 "p50_minutes": 6.0, "p90_minutes": 10.0}
    assert queues["counseling"] == {"queue": "counseling", "handoffs": 3, "taken": 2, "untaken": 0, "waiting": 1,
                                    "p50_minutes": 1.0, "p90_minutes": 3.0}
    assert figures["handoffs"]["truncated"] is False


def test_counseling_by_risk_level_counts_only(setup, figures):
    levels = figures["counseling"]["levels"]
    assert levels == {"none": [0] * 7, "normal": [0, 0, 0, 0, 1, 0, 0], "high": [0, 0, 0, 1, 0, 0, 0],
                      "emergency": [0, 0, 0, 1, 0, 0, 0]}
    for role in ("supervisor", "admin"):
        body = setup[1][role].get(f"/staff/api/dashboard?{RANGE}").text
        assert COUNSELING_TEXT not in body and "相談員につなぎます" not in body and "web:d" not in body


def test_bookings_against_capacity(figures):
    bookings, plan = figures["bookings"], schedule()
    assert bookings["booked"]["中央区"] == [0, 2, 0, 0, 1, 0, 0]  # the cancelled one is not counted
    assert bookings["booked"]["北区"] == [0, 0, 0, 0, 0, 1, 0]
    full = plan.capacity("中央区")
    assert bookings["capacity"]["中央区"] == [0, full, 0, 0, full, 0, 0]  # its days: Monday, Thursday
    assert bookings["capacity"]["北区"] == [0, 0, 0, 0, 0, plan.capacity("北区"), 0]  # Tuesday 11/3 is 文化の日
    assert bookings["total_booked"] == [0, 2, 0, 0, 1, 1, 0]
    monday = sum(plan.capacity(w) for w, days in plan.weekdays.items() if 0 in days)
    assert bookings["total_capacity"][1] == monday and bookings["total_capacity"][0] == 0  # Sunday


@pytest.mark.parametrize("query", [
    "from=2026-13-01", "from=2026-02-30&to=2026-03-01", "from=abc", "to=2026-1-5", "from=２０２６-１１-０１",
    "from=2026-11-07&to=2026-11-01", "from=2025-01-01&to=2026-01-02", "from=1900-01-01&to=1900-01-02",
    "from=9999-12-31", "from=2026-11-01%00"])
def test_bad_ranges_are_refused_with_400(setup, query):
    answer = setup[1]["supervisor"].get(f"/staff/api/dashboard?{query}")
    assert answer.status_code == 400 and answer.json()["error"], answer.text
    csv_answer = setup[1]["supervisor"].get(f"/staff/api/dashboard.csv?chart=volume&{query}")
    assert csv_answer.status_code == 400


def test_a_year_is_allowed_and_the_default_is_two_weeks(setup):
    session = setup[1]["supervisor"]
    assert len(session.get("/staff/api/dashboard?from=2025-01-01&to=2026-01-01").json()["range"]["days"]) == 366
    assert len(session.get("/staff/api/dashboard").json()["range"]["days"]) == 14


def test_csv_of_each_chart(setup):
    session = setup[1]["admin"]
    for chart in ("volume", "outcomes", "unanswered", "handoffs", "counseling", "bookings"):
        answer = session.get(f"/staff/api/dashboard.csv?chart={chart}&{RANGE}")
        assert answer.status_code == 200, chart
        assert answer.headers["content-type"].startswith("text/csv")
        assert f'-2026-11-01-2026-11-07.csv"' in answer.headers["content-disposition"]
        assert answer.content.startswith("\ufeff".encode())  # Excel reads the Japanese as UTF-8
    rows = list(csv.reader(io.StringIO(session.get(f"/staff/api/dashboard.csv?chart=handoffs&{RANGE}").text[1:])))
    assert rows == [["キュー", "引き継ぎ", "対応した", "対応前に終了", "待機中", "待ち時間 中央値（分）", "待ち時間 90%（分）"],
                    ["一般", "6", "5", "1", "0", "6.0", "10.0"], ["相談", "3", "2", "0", "1", "1.0", "3.0"]]
    rows = list(csv.reader(io.StringIO(session.get(f"/staff/api/dashboard.csv?chart=unanswered&{RANGE}").text[1:])))
    assert rows[1] == ["2026-11-01〜2026-11-07", "理解できず", "粗大ごみの出し方わからん", "2"]
    assert rows[2][2] == "'=江別市のごみ"  # never a formula in Excel
    rows = list(csv.reader(io.StringIO(session.get(f"/staff/api/dashboard.csv?chart=volume&{RANGE}").text[1:])))
    assert ["2026-11-02", "ウェブ", "2", "3"] in rows and ["2026-11-02", "LINE", "1", "1"] in rows
    assert session.get(f"/staff/api/dashboard.csv?chart=secret&{RANGE}").status_code == 400
    assert session.get(f"/staff/api/dashboard.csv?{RANGE}").status_code == 400


def test_views_are_audited(setup):
    from gateway.staff import auth as staff_auth
    from gateway.storage.db import connect

    process, sessions = setup
    assert sessions["supervisor"].get("/staff/api/dashboard?from=2026-10-01&to=2026-10-31").status_code == 200
    assert sessions["supervisor"].get("/staff/api/dashboard.csv?chart=bookings&from=2026-10-01&to=2026-10-31"
                                      ).status_code == 200
    entries = staff_auth.audit_entries(connect(process.db_url), 50)
    views = [e for e in entries if e["action"] == "view_dashboard"]
    assert views[0]["username"] == "db-supervisor" and views[0]["detail"] == "2026-10-01〜2026-10-31"
    exports = [e for e in entries if e["action"] == "export_dashboard"]
    assert exports[0]["detail"] == "bookings 2026-10-01〜2026-10-31"
    assert not {"db-staff", "db-counselor"} & {e["username"] for e in views + exports}  # refused: nothing seen


def test_the_same_figures_on_postgresql(request, figures):
    """The day bucketing differs by database (date(at, '+9 hours') / CAST(at + INTERVAL '9 hours' AS DATE)): the
    same seeded figures on a real PostgreSQL give exactly what the gateway answered from SQLite."""
    import json
    import uuid

    import sqlalchemy as sa

    from gateway.staff.console.dashboard import figures as compute
    from gateway.storage import reports
    from gateway.storage.db import connect
    from tests.gateway.dashboard_seed import FIRST, LAST, seed_assistant, seed_gateway

    server = sa.engine.make_url(request.getfixturevalue("postgres_url")).set(drivername="postgresql+psycopg")
    name = "dashboard_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = server.set(database=name).render_as_string(hide_password=False)
    seed_gateway(url)
    seed_assistant(url)  # the action server's tables in the same database: they do not meet
    engine = connect(url)
    try:
        on_postgres = json.loads(json.dumps(compute(engine, url, reports.Range(FIRST, LAST))))
        assert on_postgres == figures
        assert "ix_messages_at" in {i["name"] for i in sa.inspect(engine).get_indexes("messages")}
    finally:
        engine.dispose()


def test_hand_back_logs_the_finished_handoff(tmp_path):
    """What fills handoff_log in real use: the store's hand_back, in the same transaction, only when it wins."""
    import sqlalchemy as sa

    from gateway.storage.conversations import HandoffStore
    from gateway.storage.db import connect
    from gateway.storage.handoff_log import handoff_log

    engine = connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    store = HandoffStore(engine)
    store.get_or_create("line:U1", "line")
    store.enqueue("line:U1", "general", 0, "user_request")
    store.claim("line:U1", "hanako")
    assert not store.hand_back("line:U1", "staff:taro", "resolved")  # not taro's: nothing closed, nothing logged
    assert store.hand_back("line:U1", "staff:hanako", "resolved")
    store.get_or_create("web:w1", "web")
    store.enqueue("web:w1", "general", 0, "engine_down")
    assert store.hand_back("web:w1", "queued")  # the citizen cancelled while waiting
    store.get_or_create("web:w2", "web")
    store.hand_back("web:w2", "bot")  # the bot's own chat was never handed over: no handoff to log
    with engine.connect() as c:
        rows = [r._asdict() for r in c.execute(sa.select(handoff_log).order_by(handoff_log.c.id))]
    assert [(r["channel"], r["queue"], r["reason"], r["outcome"], r["claimed_at"] is not None) for r in rows] == [
        ("line", "general", "user_request", "resolved", True), ("web", "general", "engine_down", None, False)]
    assert rows[0]["waiting_since"] <= rows[0]["claimed_at"] <= rows[0]["ended_at"]
    assert not any("U1" in str(v) for r in rows for v in r.values())  # nothing that identifies the citizen
    engine.dispose()
