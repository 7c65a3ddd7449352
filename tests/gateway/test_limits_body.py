"""Request bodies over MAX_BODY_BYTES are refused with 413 while they stream in (gateway/http_limits.py).

A real gateway process; 200 MB go over a raw socket, chunked or with a Content-Length, to every kind of POST
door (REST chat, the LINE webhook, the staff login, a staff API, Socket.IO polling): 413, the process grows by
less than 20 MB, and the next request is answered.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Tuple

import httpx
import pytest

from tests.gateway.conftest import REST_AUTH, GatewayProcess
from tests.gateway.line_fake import SECRET as LINE_SECRET, TOKEN as LINE_TOKEN

TOTAL = 200 * 1024 * 1024
CHUNK = b"[" * 65536  # also the start of a deeply nested JSON array, for whoever would parse it


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def stream(port: int, path: str, chunked: bool, extra: str = "") -> Tuple[bytes, int]:
    """POST ``TOTAL`` bytes to ``path``; (the response's first bytes, how many body bytes were sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {TOTAL}"
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{length}\r\n"
                 f"{extra}\r\n".encode())
    answer = bytearray()

    def read() -> None:  # at the same time: the server answers and closes while we are still sending
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                answer.extend(data)
        except OSError:
            return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = 0
    try:
        while sent < TOTAL:
            sock.sendall(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK)
            sent += len(CHUNK)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server closed the connection: what we wanted
    reader.join(30)
    sock.close()
    return bytes(answer), sent


@pytest.fixture(scope="module")
def limited(engine, tmp_path_factory):
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("body"), LINE_CHANNEL_SECRET=LINE_SECRET,
                             LINE_CHANNEL_ACCESS_TOKEN=LINE_TOKEN, LINE_API_BASE_URL="http://127.0.0.1:9")
    yield process
    process.stop()


DOORS = ["/api/messages", "/webhooks/line/webhook", "/staff/login", "/staff/api/canned", "/socket.io/"]


def polling_session(url: str) -> str:
    """A Socket.IO long-polling session's path to POST to (engine.io reads such a POST whole)."""
    opened = httpx.get(f"{url}/socket.io/?EIO=4&transport=polling", timeout=10)
    sid = opened.text[opened.text.index("{"):].split('"sid":"')[1].split('"')[0]
    return f"/socket.io/?EIO=4&transport=polling&sid={sid}"


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
@pytest.mark.parametrize("path", DOORS)
def test_200_mb_body_is_refused_while_streaming(limited, path, chunked):
    if path == "/socket.io/":
        path = polling_session(limited.url)
    before = rss_mb(limited.proc.pid)
    answer, sent = stream(limited.port, path, chunked, "Authorization: Bearer test-rest-token\r\n")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert "リクエストが大きすぎます".encode() in answer
    grown = rss_mb(limited.proc.pid) - before
    assert grown < 20, f"the gateway grew by {grown:.0f} MB"
    assert sent < TOTAL, "the whole body was read: the connection should close after the 413"
    # the gateway goes on answering
    assert httpx.get(f"{limited.url}/healthz", timeout=10).status_code == 200
    ok = httpx.post(f"{limited.url}/api/messages", json={"sender": "after", "message": "こんにちは"},
                    headers=REST_AUTH, timeout=10)
    assert ok.status_code == 200 and ok.json()["messages"], ok.text
    assert limited.alive()


def test_a_body_just_under_the_limit_is_read(limited):
    padding = "x" * (1_000_000 - 200)
    answer = httpx.post(f"{limited.url}/api/messages", json={"sender": "big", "message": "こんにちは", "pad": padding},
                        headers=REST_AUTH, timeout=10)
    assert answer.status_code == 200, answer.text


def test_the_limit_is_a_setting(engine, tmp_path):
    process = GatewayProcess(engine.url, tmp_path, MAX_BODY_BYTES="1000")
    try:
        small = httpx.post(f"{process.url}/api/messages", json={"sender": "s", "message": "こんにちは"},
                           headers=REST_AUTH, timeout=10)
        assert small.status_code == 200
        chunked = httpx.post(f"{process.url}/api/messages", headers=REST_AUTH, timeout=10,
                             content=iter([b'{"sender": "s", "message": "', b"x" * 2000, b'"}']))
        assert chunked.status_code == 413 and chunked.json()["error"] == "リクエストが大きすぎます。"
    finally:
        process.stop()
