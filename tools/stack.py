"""Start, supervise and stop the whole stack: engine (rasa run), action server, gateway.

Used by `make run` (foreground; Ctrl-C, SIGTERM or SIGHUP stops all three) and by the end-to-end tests (on
free ports, with a temporary data directory). Standard library only.

    python tools/stack.py            # start with defaults, print the URL, supervise until stopped

Why it is written this way:
- Each service runs in its own process group, so stopping signals the whole group (Rasa's and uvicorn's
  children included) and a terminal's Ctrl-C reaches only this runner, which then stops them in order.
- Signals only set a flag. `make` forwards a SIGTERM to its child, so a SIGTERM to `make run`'s process group
  arrives here twice; raising from the handler (as before) aborted the clean-up half-way and left the engine
  and the action server running with their ports held.
- Once everything is up, a service that dies is started again with backoff (1, 2, 4 … 60 s; reset after
  it ran STABLE_SECONDS) while the others keep running: the gateway answers citizens with its own
  engine-down apology, and chats with a person go on. Each restart is logged on stdout.
- A service can also hang: alive, port open, no answer (a deadlock, a stuck event loop, SIGSTOP). Each one
  that has answered since its start is asked for its health every ``STACK_HEALTH_INTERVAL`` seconds (in a
  thread, so a hanging probe never delays a stop); after ``STACK_HUNG_AFTER`` probes in a row without an
  answer (any HTTP status counts as one: the gateway's /healthz says 503 while the engine is away) it is
  killed, and restarted like a crashed one. One that never answers within STARTUP_LIMIT is killed too.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.endpoints import engine_endpoints  # noqa: E402
from tools.model import ROOT, engine_env, model_path  # noqa: E402

ENGINE_BIN = ROOT / ".venv" / "engine" / "bin"
GATEWAY_PY = ROOT / ".venv" / "gateway" / "bin" / "python"
SERVICES = ("actions", "engine", "gateway")  # start order; stopped all at once

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
STABLE_SECONDS = 300.0  # a service that ran this long starts over at the first backoff step
STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
HEALTH_INTERVAL = float(os.environ.get("STACK_HEALTH_INTERVAL", 10))  # seconds between two probes of a service
HUNG_AFTER = int(os.environ.get("STACK_HUNG_AFTER", 3))  # probes in a row without an answer: hung (0: never)
PROBE_TIMEOUT = 5.0
STARTUP_LIMIT = 600.0  # a (re)started service that has not answered after this long is hung


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str, timeout: float = 2.0) -> Optional[dict]:
    """The JSON body of a 200 answer (or {} if not JSON), None otherwise."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            if response.status != 200:
                return None
            body = response.read()
    except (OSError, ValueError):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return {}


def answers(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether anything answers HTTP at ``url`` within ``timeout`` (an error status is an answer too)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGTERM when the runner dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _signal_group(pgid: int, sig: int) -> bool:
    """Signal a process group; False when no process of it is left."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # a reused id of someone else's group: not ours any more
        return False


def _group_alive(pgid: int) -> bool:
    return _signal_group(pgid, 0)


class StopRequested(Exception):
    """A stop signal arrived while starting."""


@dataclass
class Stack:
    gateway_port: int = 8000
    engine_port: int = 5005
    actions_port: int = 5055
    host: str = "127.0.0.1"
    data_dir: Path = ROOT / "var"
    model: Optional[Path] = None
    extra_env: Dict[str, str] = field(default_factory=dict)
    processes: Dict[str, subprocess.Popen] = field(default_factory=dict)
    # The engine's HTTP API (/status, trackers) needs this token; the gateway gets it as ENGINE_AUTH_TOKEN.
    engine_auth_token: str = field(default_factory=lambda: os.environ.get("ENGINE_AUTH_TOKEN") or secrets.token_urlsafe(24))
    die_with_parent: bool = False  # set by main(): a single-threaded runner may use a pre-exec hook
    log: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    started_at: Dict[str, float] = field(default_factory=dict)
    _failures: Dict[str, int] = field(default_factory=dict)
    _restart_due: Dict[str, float] = field(default_factory=dict)
    health_interval: float = HEALTH_INTERVAL
    hung_after: int = HUNG_AFTER
    probe_timeout: float = PROBE_TIMEOUT
    startup_limit: float = STARTUP_LIMIT
    _probes: Dict[str, Future] = field(default_factory=dict)
    _probe_due: Dict[str, float] = field(default_factory=dict)
    _misses: Dict[str, int] = field(default_factory=dict)
    _answered: set = field(default_factory=set)
    _probe_pool: Optional[ThreadPoolExecutor] = None

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}"

    @property
    def engine_url(self) -> str:
        return f"http://127.0.0.1:{self.engine_port}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}"

    def health_url(self, name: str) -> str:
        return {"actions": f"{self.actions_url}/health", "engine": f"{self.engine_url}/",
                "gateway": f"{self.gateway_url}/healthz"}[name]

    def _log_file(self, name: str):
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return open(logs / f"{name}.log", "ab")

    def _endpoints_file(self) -> Path:
        """endpoints.yml for this run (JSON is YAML): this run's action server and SQLite tracker store, or
        TRACKER_STORE_URL / LOCK_STORE_URL / ACTION_SERVER_URL from the environment (tools/endpoints.py)."""
        engine_dir = self.data_dir / "engine"
        engine_dir.mkdir(parents=True, exist_ok=True)
        endpoints = engine_endpoints(self.actions_url, engine_dir / "tracker.db", dict(os.environ) | self.extra_env)
        path = engine_dir / "endpoints.yml"
        path.write_text(json.dumps(endpoints, indent=2))
        return path

    def _spawn(self, name: str, cmd: List[str], env: Dict[str, str]) -> None:
        with self._log_file(name) as log:
            self.processes[name] = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None,
            )
        self.started_at[name] = time.monotonic()
        # a new process: what was known of the old one's health no longer counts
        self._answered.discard(name)
        self._misses[name] = 0
        self._probes.pop(name, None)
        self._probe_due.pop(name, None)

    def start_actions(self) -> None:
        env = engine_env(serving=True) | {"SANIC_HOST": "127.0.0.1"} | self.extra_env
        self._spawn("actions", [str(ENGINE_BIN / "rasa"), "run", "actions", "--actions", "actions",
                                "-p", str(self.actions_port)], env)

    def start_engine(self) -> None:
        # Pinned at the first start: a restart loads the same model even if the training data changed since.
        self.model = self.model or model_path()
        if not self.model.exists():
            raise SystemExit(f"no trained model at {self.model}; run `make train` first")
        # --auth-token=…: a random token may begin with "-", which argparse would take for an option (CI saw it)
        cmd = [str(ENGINE_BIN / "rasa"), "run", "--enable-api", f"--auth-token={self.engine_auth_token}",
               "-i", "127.0.0.1", "-p", str(self.engine_port), "-m", str(self.model),
               "--endpoints", str(self._endpoints_file()), "--credentials", "credentials.yml",
               "--logging-config-file", "bot/logging.yml"]  # no citizen's text in its log (bot/log_privacy.py)
        self._spawn("engine", cmd, engine_env(serving=True) | self.extra_env)

    def start_gateway(self) -> None:
        env = dict(os.environ) | {
            "HOST": self.host, "PORT": str(self.gateway_port), "ENGINE_URL": self.engine_url,
            "ENGINE_AUTH_TOKEN": self.engine_auth_token, "DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1",
        } | self.extra_env
        self._spawn("gateway", [str(GATEWAY_PY), "-m", "gateway"], env)

    def start_service(self, name: str) -> None:
        {"actions": self.start_actions, "engine": self.start_engine, "gateway": self.start_gateway}[name]()

    def start(self) -> None:
        for name in SERVICES:
            self.start_service(name)

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}; see {self.data_dir}/logs/{name}.log")

    def wait_ready(self, timeout: float = 240.0, stop_requested: Callable[[], bool] = lambda: False) -> float:
        """Wait until the action server and engine are up and the gateway says healthy; return seconds."""
        started = time.monotonic()
        checks = {
            "actions": f"{self.actions_url}/health",
            "engine": f"{self.engine_url}/status?token={self.engine_auth_token}",
            "gateway": f"{self.gateway_url}/healthz",
        }
        pending = dict(checks)
        while pending:
            if stop_requested():
                raise StopRequested()
            self.check_alive()
            for name, url in list(pending.items()):
                body = http_ok(url)
                if body is not None and (name != "engine" or body.get("model_id")):
                    del pending[name]
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            if pending:
                time.sleep(0.5)
        return time.monotonic() - started

    # ------------------------------------------------------------------ supervision
    def supervise(self, now: Optional[float] = None) -> None:
        """One round: schedule a restart for each service that died, start those whose backoff is over."""
        now = time.monotonic() if now is None else now
        for name, proc in list(self.processes.items()):
            if proc.poll() is None:
                if now - self.started_at.get(name, now) >= STABLE_SECONDS:
                    self._failures[name] = 0
                if self.hung_after > 0:
                    self._check_health(name, proc, now)
                continue
            if name not in self._restart_due:
                failures = self._failures.get(name, 0)
                delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** failures)
                self._failures[name] = failures + 1
                self._restart_due[name] = now + delay
                self.log(f"{time.strftime('%H:%M:%S')} {name} exited with code {proc.returncode} "
                         f"(see {self.data_dir}/logs/{name}.log); restart {failures + 1} in {delay:.0f}s")
            elif now >= self._restart_due[name]:
                del self._restart_due[name]
                self._reap_group(proc)
                try:
                    self.start_service(name)
                except (OSError, SystemExit) as error:  # e.g. the model file was removed: try again later
                    self.log(f"{time.strftime('%H:%M:%S')} {name} could not be started: {error}")
                    continue
                self.log(f"{time.strftime('%H:%M:%S')} {name} restarted (pid {self.processes[name].pid})")

    def _check_health(self, name: str, proc: subprocess.Popen, now: float) -> None:
        """Start a probe when one is due; count the answer of a finished one; kill a service found hung."""
        probe = self._probes.get(name)
        if probe is None:
            if now >= self._probe_due.get(name, 0.0):
                if self._probe_pool is None:
                    self._probe_pool = ThreadPoolExecutor(max_workers=len(SERVICES), thread_name_prefix="probe")
                self._probes[name] = self._probe_pool.submit(answers, self.health_url(name), self.probe_timeout)
            return
        if not probe.done():
            return
        del self._probes[name]
        self._probe_due[name] = now + self.health_interval
        if probe.result():
            self._answered.add(name)
            self._misses[name] = 0
            return
        if name in self._answered:
            self._misses[name] = self._misses.get(name, 0) + 1
            if self._misses[name] < self.hung_after:
                return
            why = f"no answer to {self._misses[name]} health checks in a row"
        elif now - self.started_at.get(name, now) >= self.startup_limit:
            why = f"no answer {self.startup_limit:.0f}s after its start"
        else:
            return  # still starting
        self.log(f"{time.strftime('%H:%M:%S')} {name} is hung ({why}); killing it")
        _signal_group(proc.pid, signal.SIGKILL)  # the next round sees it dead and restarts it with backoff

    def _reap_group(self, proc: subprocess.Popen) -> None:
        """What is left of a dead service's group (a child holding its port) is killed before a restart."""
        if _signal_group(proc.pid, signal.SIGKILL):
            deadline = time.monotonic() + 5
            while _group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    # ------------------------------------------------------------------ stopping
    def stop_process(self, name: str, timeout: float = STOP_TIMEOUT) -> None:
        self._stop([name], timeout)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM every service's group at once, wait for all, SIGKILL what is left after ``timeout``."""
        self._stop(list(self.processes), timeout)

    def _stop(self, names: List[str], timeout: float) -> None:
        procs = [self.processes.pop(name) for name in names if name in self.processes]
        for name in names:
            self._restart_due.pop(name, None)
        for proc in procs:
            _signal_group(proc.pid, signal.SIGTERM)  # also when the leader is gone: its children may not be
        deadline = time.monotonic() + timeout
        # poll() first: it reaps the leader, whose zombie would otherwise keep the group "alive"
        while time.monotonic() < deadline and any(p.poll() is None or _group_alive(p.pid) for p in procs):
            time.sleep(0.1)
        for proc in procs:
            if proc.poll() is None or _group_alive(proc.pid):
                _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        if not self.processes and self._probe_pool is not None:
            self._probe_pool.shutdown(wait=False, cancel_futures=True)
            self._probe_pool = None


def main() -> None:
    stack = Stack(
        gateway_port=int(os.environ.get("PORT", 8000)),
        host=os.environ.get("HOST", "127.0.0.1"),
        engine_port=int(os.environ.get("ENGINE_PORT", 5005)),
        actions_port=int(os.environ.get("ACTIONS_PORT", 5055)),
        data_dir=Path(os.environ.get("DATA_DIR", ROOT / "var")).resolve(),
        die_with_parent=True,
    )
    received: List[int] = []
    for sig in STOP_SIGNALS:  # a flag only: see the module docstring
        signal.signal(sig, lambda signum, _frame: received.append(signum))
    print("starting engine, action server and gateway ...", flush=True)
    try:
        stack.start()
        seconds = stack.wait_ready(stop_requested=lambda: bool(received))
        print(f"\n  Sapporo assistant is up ({seconds:.0f}s)\n"
              f"    chat (demo page):  {stack.gateway_url}/\n"
              f"    health:            {stack.gateway_url}/healthz\n"
              f"    socket.io:         {stack.gateway_url}/socket.io/\n"
              f"    staff console:     {stack.gateway_url}/staff   (first admin: make staff-admin NAME=<name>)\n"
              f"    logs:              {stack.data_dir}/logs/\n"
              "  Ctrl-C stops everything.\n", flush=True)
        while not received:
            stack.supervise()
            time.sleep(0.2)
    except StopRequested:
        pass
    finally:
        print(f"stopping ({signal.Signals(received[0]).name}) ..." if received else "stopping ...", flush=True)
        stack.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
