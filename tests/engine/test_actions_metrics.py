"""The action server's /metrics (rasa_sdk_plugins/): a real rasa_sdk server on loopback, started the way
`rasa run actions` starts it (rasa_sdk's own ``run``, from the repository root), counts action calls by
action and outcome; an unknown name does not become a label of its own unless it looks like an action;
METRICS=off removes the route."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRACKER = {"sender_id": "metrics-test", "slots": {}, "latest_message": {"intent": {"name": "human_handoff"}},
           "events": [], "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": None}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp_path: Path, **env: str):
    port = _free_port()
    log = open(tmp_path / f"actions-{port}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "-p", str(port)], cwd=ROOT,
                            env=dict(os.environ) | {"SANIC_HOST": "127.0.0.1", "ASSISTANT_DB_URL":
                                                    f"sqlite:///{tmp_path / 'assistant.db'}"} | env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp_path / f"actions-{port}.log").read_text(errors="replace")
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise TimeoutError("the action server did not start")


def _post(url: str, action: str) -> int:
    body = json.dumps({"next_action": action, "tracker": TRACKER, "domain": {}}).encode()
    request = urllib.request.Request(f"{url}/webhook", data=body, headers={"Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


def _metrics(url: str) -> str:
    return urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()


def test_action_calls_are_counted(tmp_path):
    proc, url = _start(tmp_path)
    try:
        assert _post(url, "action_handoff") == 200
        assert _post(url, "action_handoff") == 200
        assert _post(url, "action_no_such_thing") == 404
        assert _post(url, "Robert'); DROP TABLE x") == 404
        text = _metrics(url)
        assert 'actions_calls_total{action="action_handoff",outcome="ok"} 2.0' in text
        assert 'actions_calls_total{action="action_no_such_thing",outcome="unknown_action"} 1.0' in text
        assert 'actions_calls_total{action="other",outcome="unknown_action"} 1.0' in text
        assert 'actions_call_seconds_count{action="action_handoff"} 2.0' in text
        assert "DROP" not in text
    finally:
        proc.terminate()
        proc.wait(10)


def test_metrics_off(tmp_path):
    """No route: rasa_sdk answers an unknown path through its catch-all exception handler (500, not 404)."""
    proc, url = _start(tmp_path, METRICS="off")
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            _metrics(url)
        assert refused.value.code in (404, 500)
        assert b"actions_calls" not in refused.value.read()
        assert _post(url, "action_handoff") == 200
    finally:
        proc.terminate()
        proc.wait(10)
