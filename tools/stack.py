"""Start and stop the whole stack: engine (rasa run), action server, gateway.

Used by `make run` (foreground, Ctrl-C stops all three) and by the end-to-end tests (on free ports,
with a temporary data directory). Standard library only.

    python tools/stack.py            # start with defaults, print the URL, wait for Ctrl-C
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.model import ROOT, engine_env, model_path  # noqa: E402

ENGINE_BIN = ROOT / ".venv" / "engine" / "bin"
GATEWAY_PY = ROOT / ".venv" / "gateway" / "bin" / "python"


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

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}"

    @property
    def engine_url(self) -> str:
        return f"http://127.0.0.1:{self.engine_port}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}"

    def _log(self, name: str):
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return open(logs / f"{name}.log", "ab")

    def _endpoints_file(self) -> Path:
        """endpoints.yml for this run (JSON is YAML): the repository's endpoints.yml with this run's ports."""
        engine_dir = self.data_dir / "engine"
        engine_dir.mkdir(parents=True, exist_ok=True)
        endpoints = {
            "action_endpoint": {"url": f"{self.actions_url}/webhook"},
            "tracker_store": {"type": "SQL", "dialect": "sqlite", "db": str(engine_dir / "tracker.db")},
        }
        path = engine_dir / "endpoints.yml"
        path.write_text(json.dumps(endpoints, indent=2))
        return path

    def _spawn(self, name: str, cmd: List[str], env: Dict[str, str]) -> None:
        self.processes[name] = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self._log(name), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )

    def start_actions(self) -> None:
        env = engine_env() | {"SANIC_HOST": "127.0.0.1"} | self.extra_env
        self._spawn("actions", [str(ENGINE_BIN / "rasa"), "run", "actions", "--actions", "actions",
                                "-p", str(self.actions_port)], env)

    def start_engine(self) -> None:
        model = self.model or model_path()
        if not model.exists():
            raise SystemExit(f"no trained model at {model}; run `make train` first")
        cmd = [str(ENGINE_BIN / "rasa"), "run", "--enable-api", "-i", "127.0.0.1", "-p", str(self.engine_port),
               "-m", str(model), "--endpoints", str(self._endpoints_file()), "--credentials", "credentials.yml"]
        self._spawn("engine", cmd, engine_env() | self.extra_env)

    def start_gateway(self) -> None:
        env = dict(os.environ) | {
            "HOST": self.host, "PORT": str(self.gateway_port), "ENGINE_URL": self.engine_url,
            "DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1",
        } | self.extra_env
        self._spawn("gateway", [str(GATEWAY_PY), "-m", "gateway"], env)

    def start(self) -> None:
        self.start_actions()
        self.start_engine()
        self.start_gateway()

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}; see {self.data_dir}/logs/{name}.log")

    def wait_ready(self, timeout: float = 240.0) -> float:
        """Wait until the action server and engine are up and the gateway says healthy; return seconds."""
        started = time.monotonic()
        checks = {
            "actions": f"{self.actions_url}/health",
            "engine": f"{self.engine_url}/status",
            "gateway": f"{self.gateway_url}/healthz",
        }
        pending = dict(checks)
        while pending:
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

    def stop_process(self, name: str, timeout: float = 15.0) -> None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        for name in ["gateway", "engine", "actions"]:
            self.stop_process(name)


def main() -> None:
    stack = Stack(
        gateway_port=int(os.environ.get("PORT", 8000)),
        host=os.environ.get("HOST", "127.0.0.1"),
        engine_port=int(os.environ.get("ENGINE_PORT", 5005)),
        actions_port=int(os.environ.get("ACTIONS_PORT", 5055)),
        data_dir=Path(os.environ.get("DATA_DIR", ROOT / "var")).resolve(),
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started from a script
    print("starting engine, action server and gateway ...", flush=True)
    try:
        stack.start()
        seconds = stack.wait_ready()
        print(f"\n  Sapporo assistant is up ({seconds:.0f}s)\n"
              f"    chat (demo page):  {stack.gateway_url}/\n"
              f"    health:            {stack.gateway_url}/healthz\n"
              f"    socket.io:         {stack.gateway_url}/socket.io/\n"
              f"    staff console:     {stack.gateway_url}/staff   (first admin: make staff-admin NAME=<name>)\n"
              f"    logs:              {stack.data_dir}/logs/\n"
              "  Ctrl-C stops everything.\n", flush=True)
        while True:
            stack.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping ...", flush=True)
        stack.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
