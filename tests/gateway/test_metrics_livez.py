"""Liveness, metrics and JSON logs of the gateway (gateway/app.py /livez, gateway/metrics.py, gateway/logs.py),
against real gateway processes, the stand-in engine and the fake LINE API: /livez answers while the engine is
down and /healthz says 503; /metrics counts turns, engine errors, HTTP errors, rate-limit refusals, the queue
and the LINE inbox; it refuses a request from a public address (and without its token when one is set);
with LOG_FORMAT=json every log line is a JSON object and no line carries a message text or a sender id."""

from __future__ import annotations

import json
import time
import uuid
from typing import Dict, Tuple

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway import metrics
from tests.gateway.conftest import REST_AUTH, GatewayProcess
from tests.gateway.line_fake import (FakeLineApi, LineStandInEngine, line_api, line_engine, line_env,  # noqa: F401
                                     new_user, post_webhook, text_event)

# Distinctive enough that no log line could contain it by chance.
SECRET_TEXT = "雪だるまの観測記録ZQ7"
NAMED = ("gateway_turns", "gateway_turn_seconds", "gateway_engine_seconds", "gateway_engine_errors",
         "gateway_http_errors", "gateway_rate_limited", "gateway_queue_length", "gateway_queue_longest_wait_seconds",
         "gateway_line_inbox_rows", "gateway_line_inbox_oldest_seconds")


@pytest.fixture(scope="module")
def observed(line_api: FakeLineApi, line_engine: LineStandInEngine, tmp_path_factory):  # noqa: F811
    """A gateway with JSON logs, LINE on, the per-conversation rate limit low (2 a minute; a conversation's first
    message counts only as a new one) and a patient engine timeout (a hanging engine keeps a LINE row unfinished
    long enough to be seen)."""
    process = GatewayProcess(line_engine.url, tmp_path_factory.mktemp("metrics"), LOG_FORMAT="json",
                             RATE_LIMITS="on", RATE_LIMIT_CONVERSATION_MESSAGES="2 per minute",
                             ENGINE_TIMEOUT="15", **line_env(line_api))
    yield process
    line_engine.mode = "ok"
    process.stop()


@pytest.fixture(autouse=True)
def _engine_ok(line_engine: LineStandInEngine):  # noqa: F811
    line_engine.mode = "ok"
    yield
    line_engine.mode = "ok"


def scrape(gateway: GatewayProcess, **headers: str) -> Dict[Tuple[str, Tuple], float]:
    response = httpx.get(f"{gateway.url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        samples[(family.name, ())] = 0.0  # the family exists (a labelled counter may have no sample yet)
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def turn(gateway: GatewayProcess, sender: str, text: str) -> httpx.Response:
    return httpx.post(f"{gateway.url}/api/messages", json={"sender": sender, "message": text}, headers=REST_AUTH,
                      timeout=20)


def test_livez_answers_while_the_engine_is_down_and_healthz_does_not(observed, line_engine):  # noqa: F811
    line_engine.mode = "error"  # /status 503: no model
    live = httpx.get(f"{observed.url}/livez", timeout=5)
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = httpx.get(f"{observed.url}/healthz", timeout=5)
    assert ready.status_code == 503 and ready.json()["engine"] == "down"
    line_engine.mode = "ok"
    assert httpx.get(f"{observed.url}/healthz", timeout=5).status_code == 200


def test_metrics_name_every_family_and_count_turns_and_errors(observed, line_engine):  # noqa: F811
    before = scrape(observed)
    for name in NAMED:
        assert (name, ()) in before, name
    sender = "m-" + uuid.uuid4().hex
    assert turn(observed, sender, SECRET_TEXT).json()["messages"][0]["text"] == f"echo:{SECRET_TEXT}"
    line_engine.mode = "error"
    assert turn(observed, sender, SECRET_TEXT + "2").status_code == 200  # the apology
    line_engine.mode = "ok"
    assert turn(observed, sender, "   ").status_code == 200  # empty: rejected
    assert turn(observed, sender, SECRET_TEXT).status_code == 429  # the third of the conversation within the minute
    assert httpx.get(f"{observed.url}/no-such-page", timeout=5).status_code == 404
    after = scrape(observed)

    def grew(name, by=1.0, **labels):
        assert value(after, name, **labels) - value(before, name, **labels) == by, (name, labels)

    grew("gateway_turns_total", channel="rest", outcome="bot")
    grew("gateway_turns_total", channel="rest", outcome="engine_error")
    grew("gateway_turns_total", channel="rest", outcome="rejected")
    grew("gateway_turn_seconds_count", by=3.0, channel="rest")
    grew("gateway_engine_seconds_count", by=2.0)  # the 500 was a round trip too
    grew("gateway_engine_errors_total", reason="status")
    grew("gateway_rate_limited_total", limit="conversation")
    grew("gateway_http_errors_total", code="429")
    grew("gateway_http_errors_total", code="404")
    assert value(after, "gateway_turn_seconds_sum", channel="rest") > value(before, "gateway_turn_seconds_sum",
                                                                             channel="rest")


def test_queue_gauges_read_the_database(observed):
    before = scrape(observed)
    assert turn(observed, "q-" + uuid.uuid4().hex, "人と話したい").status_code == 200  # the engine hands off
    time.sleep(1.1)
    after = scrape(observed)
    assert value(after, "gateway_queue_length", queue="general") == value(before, "gateway_queue_length",
                                                                          queue="general") + 1
    assert value(after, "gateway_queue_longest_wait_seconds", queue="general") >= 1.0
    assert value(after, "gateway_queue_length", queue="counseling") == 0
    assert value(after, "gateway_turns_total", channel="rest", outcome="handoff") == \
        value(before, "gateway_turns_total", channel="rest", outcome="handoff") + 1


def test_line_inbox_depth(observed, line_api, line_engine):  # noqa: F811
    assert value(scrape(observed), "gateway_line_inbox_rows", state="unfinished") == 0
    line_engine.mode = "hang"  # the row stays in the inbox (state engine) while the engine does not answer
    assert post_webhook(observed.url, [text_event(new_user(), SECRET_TEXT)]).status_code == 200
    deadline = time.monotonic() + 10
    while value(scrape(observed), "gateway_line_inbox_rows", state="unfinished") < 1:
        assert time.monotonic() < deadline, "the LINE event never showed as unfinished"
        time.sleep(0.2)
    assert value(scrape(observed), "gateway_line_inbox_rows", state="failed") == 0
    line_engine.mode = "ok"
    deadline = time.monotonic() + 20
    while value(scrape(observed), "gateway_line_inbox_rows", state="unfinished") > 0:
        assert time.monotonic() < deadline, "the LINE event was never finished"
        time.sleep(0.2)
    assert value(scrape(observed), "gateway_turns_total", channel="line", outcome="bot") >= 1


def test_metrics_refused_from_a_public_address(observed):
    """Behind the city's proxy a citizen's request carries its public address (X-Forwarded-For, which uvicorn
    takes from a proxy on 127.0.0.1, and the header itself): refused; the scraper on loopback is answered."""
    for headers in ({"X-Forwarded-For": "8.8.8.8"}, {"X-Forwarded-For": "10.0.0.5, 8.8.8.8"},
                    {"X-Real-IP": "8.8.8.8"}, {"Forwarded": 'for="[2001:4860:4860::8888]:443"'}):
        refused = httpx.get(f"{observed.url}/metrics", headers=headers, timeout=5)
        assert refused.status_code == 403, headers
        assert "gateway_turns" not in refused.text
    assert httpx.get(f"{observed.url}/metrics", headers={"X-Forwarded-For": "10.0.0.5"}, timeout=5).status_code == 200


def test_json_logs_without_message_text(observed, line_engine):  # noqa: F811
    sender = "log-" + uuid.uuid4().hex
    line_engine.mode = "error"  # the router logs the engine failure (with the conversation's hash)
    assert turn(observed, sender, SECRET_TEXT).status_code == 200
    line_engine.mode = "ok"
    assert turn(observed, sender, SECRET_TEXT * 300).status_code == 200  # too long: logged as rejected
    time.sleep(0.5)
    lines = [line for line in observed.log().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert entries and all({"time", "level", "logger", "message", "service"} <= set(e) for e in entries)
    assert all(e["service"] == "gateway" for e in entries)
    assert any(e["logger"] == "gateway.handoff.router" and "engine unavailable" in e["message"] for e in entries)
    assert any("reason=too-long" in e["message"] for e in entries)
    log = observed.log()
    assert SECRET_TEXT not in log and sender not in log
    assert json.dumps(SECRET_TEXT)[1:-1] not in log  # not even escaped


@pytest.mark.parametrize("peer, forwarded, authorization, public, token, expected", [
    ("127.0.0.1", [], "", False, "", None),
    ("10.1.2.3", ["172.16.0.9", "192.168.1.1"], "", False, "", None),
    ("::1", [], "", False, "", None),
    ("::ffff:10.0.0.1", [], "", False, "", None),
    ("8.8.8.8", [], "", False, "", 403),
    ("127.0.0.1", ["8.8.8.8"], "", False, "", 403),
    ("127.0.0.1", ["unknown"], "", False, "", 403),
    ("8.8.8.8", [], "", True, "", None),
    ("127.0.0.1", [], "", False, "s3cret", 401),
    ("127.0.0.1", [], "Bearer wrong", False, "s3cret", 401),
    ("8.8.8.8", [], "Bearer s3cret", False, "s3cret", 403),
    ("8.8.8.8", [], "Bearer s3cret", True, "s3cret", None),
])
def test_who_may_read_metrics(peer, forwarded, authorization, public, token, expected):
    assert metrics.allowed(peer, forwarded, authorization, public, token) == expected


def test_metrics_token_and_public(engine, tmp_path):
    """METRICS_PUBLIC=1 with METRICS_TOKEN: any address, only with the token."""
    gateway = GatewayProcess(engine.url, tmp_path, METRICS_PUBLIC="1", METRICS_TOKEN="s3cret-token")
    try:
        url = f"{gateway.url}/metrics"
        public = {"X-Forwarded-For": "8.8.8.8"}
        assert httpx.get(url, timeout=5).status_code == 401
        assert httpx.get(url, headers={**public, "Authorization": "Bearer nope"}, timeout=5).status_code == 401
        answered = httpx.get(url, headers={**public, "Authorization": "Bearer s3cret-token"}, timeout=5)
        assert answered.status_code == 200 and "gateway_turns" in answered.text
        assert "gateway_line_inbox_rows" not in answered.text  # LINE is off here
    finally:
        gateway.stop()


def test_metrics_off(engine, tmp_path):
    gateway = GatewayProcess(engine.url, tmp_path, METRICS="off")
    try:
        assert httpx.get(f"{gateway.url}/metrics", timeout=5).status_code == 404
        assert httpx.get(f"{gateway.url}/livez", timeout=5).status_code == 200
    finally:
        gateway.stop()
