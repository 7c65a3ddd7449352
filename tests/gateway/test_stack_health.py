"""The runner's health checks (tools/stack.py): a service that is alive but silent is killed and started
again; one that answers, even with an error status, is left alone; one that never comes up is not waited
for forever. A real process stands in for a service: Python's http.server on a free port."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import List

import pytest

from tools.stack import Stack, free_port


class OneService(Stack):
    """The runner with one service, "actions", played by ``command`` (``{port}`` is filled in)."""

    def __init__(self, tmp_path: Path, command: List[str], path: str = "/", **kwargs) -> None:
        self.lines: List[str] = []
        super().__init__(data_dir=tmp_path, log=self.lines.append, health_interval=0.2, hung_after=2,
                         probe_timeout=1.0, **kwargs)
        self.port, self.command, self.path, self.root = free_port(), command, path, tmp_path

    def start_service(self, name: str) -> None:
        self._spawn(name, [part.format(port=self.port, root=self.root) for part in self.command], dict(os.environ))

    def health_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def run_until(self, pattern: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.supervise()
            if any(pattern in line for line in self.lines):
                return
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not seen in {timeout}s: {self.lines}")

    def run_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.supervise()
            time.sleep(0.05)


HTTP_SERVER = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", "{root}"]


@pytest.fixture
def stacks():
    made: List[Stack] = []
    yield made.append
    for stack in made:
        for proc in stack.processes.values():  # a stopped (SIGSTOP) group must be woken to be stopped
            try:
                os.killpg(proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        stack.stop(timeout=5)


def _answered(stack: OneService, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while "actions" not in stack._answered:
        assert time.monotonic() < deadline, f"the stand-in never answered: {stack.lines}"
        stack.supervise()
        time.sleep(0.05)


def test_a_service_that_stops_answering_is_killed_and_started_again(tmp_path, stacks):
    stack = OneService(tmp_path, HTTP_SERVER)
    stacks(stack)
    stack.start_service("actions")
    _answered(stack)
    first = stack.processes["actions"].pid
    os.killpg(first, signal.SIGSTOP)  # alive, port open, no answer
    stack.run_until("actions is hung (no answer to 2 health checks in a row); killing it", 15)
    stack.run_until("actions restarted", 10)
    assert stack.processes["actions"].pid != first
    _answered(stack)  # the new one answers


def test_an_error_status_is_an_answer_and_a_busy_service_is_left_alone(tmp_path, stacks):
    stack = OneService(tmp_path, HTTP_SERVER, path="/no-such-page")  # 404, as the gateway's 503 without engine
    stacks(stack)
    stack.start_service("actions")
    _answered(stack)
    pid = stack.processes["actions"].pid
    stack.run_for(2.0)
    assert stack.processes["actions"].pid == pid and stack.processes["actions"].poll() is None
    assert not [line for line in stack.lines if "hung" in line], stack.lines


def test_a_service_that_never_comes_up_is_not_waited_for_forever(tmp_path, stacks):
    stack = OneService(tmp_path, [sys.executable, "-c", "import time; time.sleep(120)"], startup_limit=1.0)
    stacks(stack)
    stack.start_service("actions")
    stack.run_until("actions is hung (no answer 1s after its start); killing it", 10)
    stack.run_until("actions exited with code -9", 5)


def test_health_checks_can_be_switched_off(tmp_path, stacks):
    stack = OneService(tmp_path, HTTP_SERVER)
    stack.hung_after = 0
    stacks(stack)
    stack.start_service("actions")
    time.sleep(1.0)
    os.killpg(stack.processes["actions"].pid, signal.SIGSTOP)
    stack.run_for(3.0)
    assert not [line for line in stack.lines if "hung" in line], stack.lines


def test_an_engine_token_that_begins_with_a_dash_reaches_the_engine(tmp_path, monkeypatch):
    """secrets.token_urlsafe() begins with "-" once in 64 starts; as a separate argument Rasa's argparse took it
    for an option and the engine would not start ("argument -t/--auth-token: expected one argument")."""
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"")
    stack = Stack(data_dir=tmp_path, model=model, engine_auth_token="-dash-first_token")
    started = {}
    monkeypatch.setattr(stack, "_spawn", lambda name, cmd, env: started.update({name: cmd}))
    stack.start_engine()
    parser = argparse.ArgumentParser()  # the options of `rasa run` that matter here, as Rasa declares them
    parser.add_argument("-t", "--auth-token")
    parser.add_argument("--enable-api", action="store_true")
    known, _ = parser.parse_known_args(started["engine"][2:])
    assert known.auth_token == "-dash-first_token"
