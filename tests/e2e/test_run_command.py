"""What `make run` runs (tools/stack.py): prints the URL once healthy, and Ctrl-C stops all three services."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tools.model import ROOT
from tools.stack import free_port

pytestmark = pytest.mark.e2e


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_run_prints_urls_and_ctrl_c_stops_everything(tmp_path):
    ports = {"PORT": free_port(), "ENGINE_PORT": free_port(), "ACTIONS_PORT": free_port()}
    env = dict(os.environ) | {k: str(v) for k, v in ports.items()} | {"DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "tools/stack.py"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "".join(output)
            output.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(output)
        assert f"http://127.0.0.1:{ports['PORT']}/" in text
        assert httpx.get(f"http://127.0.0.1:{ports['PORT']}/healthz").status_code == 200

        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        assert "stopped." in proc.stdout.read()
        for name, port in ports.items():
            assert not port_open(port), f"{name} {port} still listening after Ctrl-C"
    finally:
        if proc.poll() is None:
            proc.kill()
