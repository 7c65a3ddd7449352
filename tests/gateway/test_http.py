"""HTTP side of the gateway: demo page, health, the plain chat endpoint and its bad-input answers."""

import time

import httpx
import pytest

from tests.gateway.conftest import REST_AUTH, GatewayProcess, free_port


def test_demo_page_has_a_chat_box(gateway):
    page = httpx.get(f"{gateway.url}/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert 'src="/widget.js"' in page.text  # the same tag as on any other page (README "Website widget")
    for asset in ["/widget.js", "/static/vendor/socket.io.min.js"]:
        assert httpx.get(f"{gateway.url}{asset}").status_code == 200, asset


def test_healthz_reports_engine_state(gateway, engine):
    ok = httpx.get(f"{gateway.url}/healthz")
    assert ok.status_code == 200
    assert ok.json() == {"status": "ok", "engine": "ok"}
    engine.mode = "error"
    down = httpx.get(f"{gateway.url}/healthz")
    assert down.status_code == 503
    assert down.json() == {"status": "ok", "engine": "down"}


def test_rest_chat_turn(gateway, engine):
    answer = httpx.post(f"{gateway.url}/api/messages", json={"sender": "abc", "message": "menu"}, headers=REST_AUTH)
    assert answer.status_code == 200
    assert answer.json()["messages"][0]["quick_replies"][0]["payload"] == "/menu_garbage"
    assert engine.received[-1]["sender"] == "rest:abc"


def test_a_sender_in_japanese_is_answered(gateway, engine):
    """A REST sender may be any text: the engine's balancing header carries it percent-encoded (a header is ASCII;
    with httpx this was a 503)."""
    answer = httpx.post(f"{gateway.url}/api/messages", json={"sender": "札幌 太郎", "message": "こんにちは"},
                        headers=REST_AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json()["messages"][0]["text"] == "echo:こんにちは"
    assert engine.received[-1]["sender"] == "rest:札幌 太郎"
    assert engine.balancing_keys[-1] == "rest:%E6%9C%AD%E5%B9%8C%20%E5%A4%AA%E9%83%8E"


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe\xfa invalid utf-8", b"", b"[1, 2]", b'{"message": "no sender"}', b'{"sender": "  "}'],
)
def test_bad_bodies_are_4xx_not_500(gateway, body):
    answer = httpx.post(f"{gateway.url}/api/messages", content=body, headers={"content-type": "application/json"} | REST_AUTH)
    assert answer.status_code == 400
    assert answer.json()["error"]
    assert gateway.alive()


def test_oversized_body_is_refused(gateway, engine):
    huge = '{"sender": "a", "message": "' + "x" * 2_000_000 + '"}'
    answer = httpx.post(f"{gateway.url}/api/messages", content=huge.encode(), headers=REST_AUTH)
    assert answer.status_code == 413
    assert engine.received == []
    assert gateway.alive()


def test_unknown_route_and_method_are_4xx(gateway):
    assert httpx.get(f"{gateway.url}/nope").status_code == 404
    assert httpx.delete(f"{gateway.url}/healthz").status_code == 405


def test_unreachable_engine_gets_an_apology_quickly(tmp_path):
    process = GatewayProcess(f"http://127.0.0.1:{free_port()}", tmp_path)  # nothing listens there
    try:
        started = time.monotonic()
        answer = httpx.post(f"{process.url}/api/messages", json={"sender": "a", "message": "こんにちは"}, timeout=10,
                            headers=REST_AUTH)
        assert time.monotonic() - started < 5
        assert answer.status_code == 200
        assert "011-222-4894" in answer.json()["messages"][0]["text"]
        assert httpx.get(f"{process.url}/healthz").status_code == 503
        assert "engine unavailable" in process.log()
    finally:
        process.stop()


def test_logs_never_contain_message_text(gateway):
    httpx.post(f"{gateway.url}/api/messages", json={"sender": "privacy", "message": "わたしの秘密の相談です"}, headers=REST_AUTH)
    httpx.post(f"{gateway.url}/api/messages", json={"sender": "privacy", "message": "秘密" * 5000}, headers=REST_AUTH)
    assert "秘密" not in gateway.log()
