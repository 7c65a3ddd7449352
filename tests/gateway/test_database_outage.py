"""The gateway's database out for a moment (a PostgreSQL restart, a failover): a citizen who writes then gets a
clear answer to send again — on the widget and the REST door — never silence or a bare 500, and the next
message after the database is back is answered as usual. The outage is real: the gateway's own database role
loses its login and its connections are cut (what a restart does to them), then gets it back."""

import uuid

import httpx
import pytest
import sqlalchemy as sa

from gateway import texts
from tests.gateway.conftest import REST_AUTH, GatewayProcess
from tests.socketio_client import WidgetClient


@pytest.fixture(scope="module")
def gateway_db(postgres_url):
    """A database and a login role of its own (not a superuser, so its login can be taken away)."""
    name = "outage_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"CREATE ROLE {name} LOGIN")
        c.exec_driver_sql(f"CREATE DATABASE {name} OWNER {name}")
    host = postgres_url.split("@", 1)[1].rsplit("/", 1)[0]
    yield admin, name, f"postgresql+psycopg://{name}@{host}/{name}"
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        c.exec_driver_sql(f"DROP ROLE {name}")
    admin.dispose()


@pytest.fixture(scope="module")
def gateway(engine, tmp_path_factory, gateway_db):
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("outage"), GATEWAY_DB_URL=gateway_db[2])
    yield process
    process.stop()


def _outage(admin, role: str, on: bool) -> None:
    with admin.connect() as c:
        c.exec_driver_sql(f"ALTER ROLE {role} {'NOLOGIN' if on else 'LOGIN'}")
        if on:
            c.exec_driver_sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")


async def test_a_turn_during_the_outage_is_answered_and_the_next_one_after_it_as_usual(gateway, gateway_db):
    admin, role, _ = gateway_db
    widget = WidgetClient(gateway.url)
    await widget.connect()
    try:
        assert (await widget.ask("こんにちは"))["text"]  # the stand-in engine's answer
        _outage(admin, role, True)
        try:
            assert (await widget.ask("ごみの日を教えて", timeout=30))["text"] == texts.TURN_FAILED
            answer = httpx.post(f"{gateway.url}/api/messages", json={"sender": "outage", "message": "こんにちは"},
                                headers=REST_AUTH, timeout=30)
            assert answer.status_code == 503 and answer.json()["error"] == texts.TURN_FAILED
        finally:
            _outage(admin, role, False)
        assert (await widget.ask("こんにちは"))["text"] != texts.TURN_FAILED
        answer = httpx.post(f"{gateway.url}/api/messages", json={"sender": "outage", "message": "こんにちは"},
                            headers=REST_AUTH, timeout=30)
        assert answer.status_code == 200 and answer.json()["messages"]
    finally:
        await widget.close()
    assert "こんにちは" not in gateway.log() and "ごみの日" not in gateway.log()  # the failure logged without text
