"""The scale-out topology on one machine: PostgreSQL, Redis, HAProxy, N action servers, N engines, N gateways.

    .venv/gateway/bin/python tools/scaleout.py          # 2×2×2 on free loopback ports; prints the URLs; Ctrl-C stops

Used by tests/scaleout (load and fault tests) and benchmarks/scaleout.py. Standard library only, plus
tools/stack.py's helpers (free ports, HTTP probes, process groups) and tools/pg.py's PostgreSQL binaries.

Wiring (docs/../readme_parts/SCALEOUT_CONTRACT.md):
- PostgreSQL databases ``gateway`` (GATEWAY_DB_URL), ``assistant`` (ASSISTANT_DB_URL: bookings, unanswered log),
  ``citydata`` (CITYDATA_DB_URL, loaded once before the action servers start) and ``rasa`` (the engines' SQL
  tracker store, TRACKER_STORE_URL for the gateways' retention job).
- Redis db 0: rate limits (RATE_LIMIT_STORAGE_URL), db 1: Socket.IO + the gateways' event bus (SOCKETIO_REDIS_URL),
  db 2: the engines' lock store (LOCK_STORE_URL).
- HAProxy (deploy/haproxy/haproxy.cfg.template): the gateways' frontend (the public URL), the engines' frontend
  (the gateways' ENGINE_URL, hashed by X-Conversation-Id) and the action servers' frontend (the engines' action
  endpoint).

Why it is written this way:
- Each service runs in its own process group (a kill reaches Rasa's children too) and is restarted by a small
  supervisor thread when it dies (the fault tests kill them). PostgreSQL and Redis are restarted only on request.
- Engines load their model at the same time on 2 cores (several minutes, measured: see the README part); the
  second engine is started once the first has created the tracker tables, so the two never race on CREATE TABLE;
  the second gateway once the first has created the gateway's tables (no Alembic yet on the gateway side).
- Everything is stopped on exit: ``with Topology(...) as topo`` and the command's SIGINT/SIGTERM handler.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.model import ENGINE_BIN, ROOT, engine_env, model_path  # noqa: E402
from tools.endpoints import engine_endpoints  # noqa: E402
from tools.pg import _bindir as pg_bindir  # noqa: E402
from tools.redis_server import RedisServer  # noqa: E402
from tools.stack import GATEWAY_PY, _group_alive, _signal_group, answers, free_port, http_ok  # noqa: E402

TEMPLATE = ROOT / "deploy" / "haproxy" / "haproxy.cfg.template"
CITY_SAMPLE = ROOT / "data" / "city_sample"
ENGINE_READY_TIMEOUT = float(os.environ.get("SCALEOUT_ENGINE_TIMEOUT", 600))  # two engines loading on 2 cores
SERVICE_READY_TIMEOUT = float(os.environ.get("SCALEOUT_SERVICE_TIMEOUT", 420))  # busy 2 cores


def pick_model() -> Path:
    """The model for the current training data; else (``SCALEOUT_MODEL`` or) the newest trained one, with a
    warning: the harness proves the topology, not the model, and a pin in constraints/engine.txt changes the
    fingerprint without changing what the model does."""
    wanted = Path(os.environ["SCALEOUT_MODEL"]) if os.environ.get("SCALEOUT_MODEL") else model_path()
    if wanted.exists():
        return wanted
    trained = sorted((ROOT / "models").glob("nlu-core-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not trained:
        raise SystemExit(f"no trained model at {wanted}; run `make train` first")
    log(f"warning: no model for the current inputs ({wanted.name}); using the newest trained one, {trained[-1].name}")
    return trained[-1]


def log(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def wait_port(port: int, timeout: float, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or not alive():
                raise RuntimeError(f"nothing listens on port {port}")
            time.sleep(0.1)


# ====================================================================== PostgreSQL and Redis

class Postgres:
    """A throwaway PostgreSQL like tools/pg.py's, that can also be restarted (the fault test)."""

    def __init__(self) -> None:
        self.bindir = pg_bindir()
        self.as_user: List[str] = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        # its own folder in /tmp: as root the server runs as `postgres`, which cannot enter pytest's 0700 folders
        self.base = Path(tempfile.mkdtemp(prefix="scaleout-pg-"))
        self.data = self.base / "pgdata"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def _ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run(self.as_user + [str(self.bindir / "pg_ctl"), "-D", str(self.data), *args], check=check,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def init(self) -> None:
        self.data.mkdir(parents=True)
        if self.as_user:
            shutil.chown(self.base, "postgres")
            shutil.chown(self.data, "postgres")
        done = subprocess.run(self.as_user + [str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust",
                                              "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr}")

    def remove(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=300")
        self._ctl("-o", options, "-w", "-t", "60", "-l", str(self.data / "server.log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop", check=False)

    def restart(self) -> float:
        """Stop (``fast``: every connection is cut, as on a failover) and start again; seconds it took."""
        started = time.monotonic()
        self.stop("fast")
        self.start()
        return time.monotonic() - started

    def create_databases(self, names: List[str]) -> None:
        for name in names:
            subprocess.run(self.as_user + [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                                           "-U", "postgres", "-d", "postgres", "-qc", f"CREATE DATABASE {name}"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def query(self, database: str, sql: str) -> List[List[str]]:
        """Rows of ``sql`` (tab-separated text through psql: no driver needed in the calling environment)."""
        out = subprocess.run(self.as_user + [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                                             "-U", "postgres", "-d", database, "-AtF", "\t", "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]


# ====================================================================== supervised services

@dataclass
class Service:
    name: str
    cmd: List[str]
    env: Dict[str, str]
    port: int
    ready_url: str  # 200 (and for engines a model_id) = ready
    log_dir: Path
    proc: Optional[subprocess.Popen] = None
    started_at: float = 0.0
    restarts: List[float] = field(default_factory=list)  # monotonic times of the supervisor's restarts
    stopping: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{self.name}.log", "ab") as out:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        body = http_ok(self.ready_url, timeout=2)
        if body is None:
            return False
        return bool(body.get("model_id")) if self.name.startswith("engine") else True

    def wait_ready(self, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.proc is not None and self.proc.poll() is not None and not self.restarts:
                tail = (self.log_dir / f"{self.name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not ready after {timeout:.0f}s; see {self.log_dir}/{self.name}.log")
            time.sleep(0.5)
        return time.monotonic() - self.started_at

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None:
            _signal_group(self.proc.pid, sig)

    def stop(self, timeout: float = 15.0) -> None:
        self.stopping = True
        if self.proc is None:
            return
        _signal_group(self.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (self.proc.poll() is None or _group_alive(self.proc.pid)):
            time.sleep(0.1)
        if self.proc.poll() is None or _group_alive(self.proc.pid):
            _signal_group(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


# ====================================================================== the topology

class Topology:
    """``engines`` × ``actions`` × ``gateways`` behind one HAProxy, on PostgreSQL and Redis, in ``run_dir``."""

    def __init__(self, run_dir: Optional[Path] = None, engines: int = 2, actions: int = 2, gateways: int = 2,
                 gateway_env: Optional[Dict[str, str]] = None, city_data: Path = CITY_SAMPLE,
                 engine_threads: Optional[int] = None, external_engines: Optional[List[str]] = None) -> None:
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="scaleout-")).resolve()
        self.counts = {"engine": engines, "actions": actions, "gateway": gateways}
        self.gateway_env = dict(gateway_env or {})
        self.city_data = city_data
        self.engine_threads = engine_threads
        self.pg = Postgres()
        self.redis = RedisServer(self.run_dir / "logs" / "redis.log")
        self.ports = {name: free_port() for name in ("gateways", "engines", "actions", "stats")}
        self.haproxy: Optional[Service] = None
        self.services: Dict[str, Service] = {}
        self.timings: Dict[str, float] = {}
        self.engine_auth_token = secrets.token_urlsafe(24)
        self._supervisor: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self.supervised = True  # the supervisor restarts a dead service (off: a test watches one stay down)
        # "host:port" of engines started elsewhere (the short tests' stand-ins, which also answer for the action
        # servers' slots): no Rasa, no action server, no model is started then
        self.external_engines = list(external_engines or [])
        if self.external_engines:
            self.counts["engine"] = self.counts["actions"] = 0
        self.model = pick_model() if not self.external_engines else Path("/nonexistent")

    # ---------------------------------------------------------------- addresses
    @property
    def url(self) -> str:
        """The public URL (HAProxy's gateway frontend)."""
        return f"http://127.0.0.1:{self.ports['gateways']}"

    @property
    def engine_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['engines']}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['actions']}"

    @property
    def stats_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['stats']}/stats"

    def of(self, kind: str) -> List[Service]:
        return [s for name, s in sorted(self.services.items()) if name.rstrip("0123456789") == kind]

    def db_url(self, database: str, driver: str = "") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://postgres@127.0.0.1:{self.pg.port}/{database}"

    # ---------------------------------------------------------------- wiring
    def _engine_endpoints(self) -> Path:
        """The engines' endpoints.yml (JSON is YAML), as tools/stack.py and the engine image write it
        (tools/endpoints.py): the pinging SQL tracker store on PostgreSQL, the Redis lock store, HAProxy's actions."""
        env = {"TRACKER_STORE_URL": self.db_url("rasa"), "LOCK_STORE_URL": self.redis.url(2),
               "ACTION_SERVER_URL": self.actions_url}
        endpoints = engine_endpoints(self.actions_url, self.run_dir / "tracker.db", env)
        path = self.run_dir / "endpoints.yml"
        path.write_text(json.dumps(endpoints, indent=2))
        return path

    def _engine_env(self) -> Dict[str, str]:
        # tools/model.py's serving defaults: ticket lock lifetime, the tracker store's SQL pool, TF thread counts
        env = engine_env(serving=True) | {
            "SANIC_HOST": "127.0.0.1",
            "CITYDATA_DB_URL": self.db_url("citydata"), "ASSISTANT_DB_URL": self.db_url("assistant"),
            "TRACKER_STORE_URL": self.db_url("rasa"), "LOCK_STORE_URL": self.redis.url(2),
            "ACTION_SERVER_URL": self.actions_url,
            "ASSISTANT_TODAY": self.gateway_env.get("ASSISTANT_TODAY", os.environ.get("ASSISTANT_TODAY", "")),
        }
        if not env["ASSISTANT_TODAY"]:
            del env["ASSISTANT_TODAY"]
        if self.engine_threads:
            # N engines on few cores: one TensorFlow / BLAS thread each instead of one per core per engine
            env |= {"TF_INTRA_OP_PARALLELISM_THREADS": str(self.engine_threads),
                    "TF_INTER_OP_PARALLELISM_THREADS": str(self.engine_threads),
                    "OMP_NUM_THREADS": str(self.engine_threads)}
        return env

    def gateway_check_path(self) -> str:
        """/livez once the gateway has it (helper "observability"), else /healthz (readiness: 503 without engine)."""
        return "/livez" if http_ok(self.of("gateway")[0].url + "/livez") is not None else "/healthz"

    def _gateway_env(self, index: int, port: int) -> Dict[str, str]:
        return dict(os.environ) | {
            "HOST": "127.0.0.1", "PORT": str(port), "ENGINE_URL": self.engine_url,
            "ENGINE_AUTH_TOKEN": self.engine_auth_token, "DATA_DIR": str(self.run_dir / f"gateway{index}"),
            "PYTHONUNBUFFERED": "1",
            "GATEWAY_DB_URL": self.db_url("gateway", "psycopg"), "ASSISTANT_DB_URL": self.db_url("assistant", "psycopg"),
            "TRACKER_STORE_URL": self.db_url("rasa", "psycopg"),
            "RATE_LIMIT_STORAGE_URL": self.redis.url(0), "SOCKETIO_REDIS_URL": self.redis.url(1),
            # what must be the same on every gateway
            "WEBCHAT_SESSION_SECRET": self._session_secret, "COUNSELING_KEYS": self._counseling_key,
        } | self.gateway_env

    def _service(self, kind: str, index: int) -> Service:
        port = free_port()
        name = f"{kind}{index}"
        logs = self.run_dir / "logs"
        if kind == "actions":
            cmd = [str(ENGINE_BIN / "rasa"), "run", "actions", "--actions", "actions", "-p", str(port)]
            return Service(name, cmd, self._engine_env(), port, f"http://127.0.0.1:{port}/health", logs)
        if kind == "engine":
            cmd = [str(ENGINE_BIN / "rasa"), "run", "--enable-api", f"--auth-token={self.engine_auth_token}",
                   "-i", "127.0.0.1", "-p", str(port), "-m", str(self.model), "--endpoints", str(self._endpoints),
                   "--credentials", "credentials.yml", "--logging-config-file", "bot/logging.yml"]
            return Service(name, cmd, self._engine_env(), port,
                           f"http://127.0.0.1:{port}/status?token={self.engine_auth_token}", logs)
        cmd = [str(GATEWAY_PY), "-m", "gateway"]
        return Service(name, cmd, self._gateway_env(index, port), port, f"http://127.0.0.1:{port}/healthz", logs)

    def _haproxy_env(self) -> Dict[str, str]:
        env = dict(os.environ)
        for kind, key in (("gateway", "GATEWAY"), ("engine", "ENGINE"), ("actions", "ACTIONS")):
            addresses = [f"127.0.0.1:{s.port}" for s in self.of(kind)] or self.external_engines
            for slot in (1, 2):  # the template has two servers per tier; 1×1×1 puts the one in both slots
                env[f"{key}{slot}_ADDR"] = addresses[min(slot, len(addresses)) - 1]
        env |= {"GATEWAY_BIND": f"127.0.0.1:{self.ports['gateways']}", "ENGINE_BIND": f"127.0.0.1:{self.ports['engines']}",
                "ACTIONS_BIND": f"127.0.0.1:{self.ports['actions']}", "STATS_BIND": f"127.0.0.1:{self.ports['stats']}",
                "GATEWAY_CHECK": self._gateway_check}
        return env

    def _start_haproxy(self) -> None:
        env = self._haproxy_env()
        check = subprocess.run(["haproxy", "-c", "-q", "-f", str(TEMPLATE)], env=env, capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy -c refused the configuration: {check.stderr or check.stdout}")
        self.haproxy = Service("haproxy", ["haproxy", "-db", "-f", str(TEMPLATE)], env, self.ports["stats"],
                               self.stats_url, self.run_dir / "logs")
        self.haproxy.start()
        wait_port(self.ports["gateways"], 10, self.haproxy.alive)

    # ---------------------------------------------------------------- start / stop
    def start(self) -> Dict[str, float]:
        t0 = time.monotonic()
        if not self.external_engines and not self.model.exists():
            raise SystemExit(f"no trained model at {self.model}; run `make train` first")
        self._session_secret = secrets.token_urlsafe(48)
        self._counseling_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self.pg.init()
        self.pg.start()
        self.pg.create_databases(["gateway", "assistant", "citydata", "rasa"])
        self.redis.start()
        self.timings["postgres_redis"] = time.monotonic() - t0
        t = time.monotonic()
        if not self.external_engines:
            subprocess.run([str(ENGINE_BIN / "python"), "-m", "bot.knowledge.citydata", "load", str(self.city_data),
                            "--db", self.db_url("citydata")], cwd=ROOT, env=engine_env(), check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.timings["citydata_load"] = time.monotonic() - t
        self._endpoints = self._engine_endpoints()
        for kind in ("actions", "engine", "gateway"):
            for i in range(1, self.counts[kind] + 1):
                self.services[f"{kind}{i}"] = self._service(kind, i)
        # engines first (the long part), the second once the first has made the tracker tables
        engines = self.of("engine")
        if engines:
            engines[0].start()
        for service in self.of("actions"):
            service.start()
        if len(engines) > 1:
            self._wait_tracker_tables(engines[0])
            for engine in engines[1:]:
                engine.start()
        for service in self.of("actions"):
            service.wait_ready(SERVICE_READY_TIMEOUT)
        gateways = self.of("gateway")
        gateways[0].start()
        self._wait_answers(gateways[0])
        for gateway in gateways[1:]:
            gateway.start()
        for gateway in gateways:
            self._wait_answers(gateway)
        self._gateway_check = self.gateway_check_path()
        self._start_haproxy()
        for engine in engines:
            self.timings[f"{engine.name}_ready"] = engine.wait_ready(ENGINE_READY_TIMEOUT)
        for gateway in gateways:
            gateway.wait_ready(SERVICE_READY_TIMEOUT)
        self.wait_balanced(60)
        self.timings["total"] = time.monotonic() - t0
        self._supervisor = threading.Thread(target=self._supervise, name="scaleout-supervisor", daemon=True)
        self._supervisor.start()
        return self.timings

    def _wait_tracker_tables(self, first: Service, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not self.pg.query("rasa", "SELECT 1 FROM pg_tables WHERE tablename = 'events'"):
            if not first.alive():
                raise RuntimeError(f"{first.name} exited; see {first.log_dir}/{first.name}.log")
            if time.monotonic() > deadline:
                raise TimeoutError("the first engine did not create the tracker tables")
            time.sleep(0.5)

    @staticmethod
    def _wait_answers(service: Service, timeout: float = SERVICE_READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not answers(service.url + "/healthz", 2):
            if not service.alive():
                raise RuntimeError(f"{service.name} exited; see {service.log_dir}/{service.name}.log")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service.name} does not answer")
            time.sleep(0.3)

    def stats(self) -> List[Dict[str, str]]:
        """HAProxy's statistics, one dict per frontend/backend/server (columns: pxname, svname, status, stot,
        hrsp_2xx, …)."""
        with urllib.request.urlopen(self.stats_url + ";csv", timeout=5) as response:
            text = response.read().decode().lstrip("# ")
        return list(csv.DictReader(io.StringIO(text)))

    def server_status(self, backend: str) -> Dict[str, str]:
        return {row["svname"]: row["status"] for row in self.stats()
                if row["pxname"] == backend and row["svname"] not in ("FRONTEND", "BACKEND")}

    def requests_per_server(self, backend: str) -> Dict[str, int]:
        """HTTP answers each server of ``backend`` has given (all status classes)."""
        counts = {}
        for row in self.stats():
            if row["pxname"] == backend and row["svname"] not in ("FRONTEND", "BACKEND"):
                counts[row["svname"]] = sum(int(row.get(f"hrsp_{c}xx") or 0) for c in range(1, 6))
        return counts

    def wait_balanced(self, timeout: float) -> float:
        """Wait until HAProxy sees every server of every backend UP; seconds waited."""
        started = time.monotonic()
        while True:
            statuses = {f"{b}/{s}": st for b in ("gateways", "engines", "actions")
                        for s, st in self.server_status(b).items()}
            if all(st == "UP" for st in statuses.values()):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"HAProxy does not see every server up: {statuses}")
            time.sleep(0.2)

    def _supervise(self) -> None:
        while not self._stop.wait(0.2):
            for service in list(self.services.values()):
                if self.supervised and not service.stopping and service.proc is not None and not service.alive():
                    _signal_group(service.proc.pid, signal.SIGKILL)  # what is left of its group
                    log(f"{service.name} exited with code {service.proc.returncode}; restarting")
                    service.start()
                    service.restarts.append(time.monotonic())

    def stop(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
        procs = list(self.services.values()) + ([self.haproxy] if self.haproxy else [])
        for service in procs:
            service.stopping = True
            if service.proc is not None:
                _signal_group(service.proc.pid, signal.SIGTERM)
        threads = [threading.Thread(target=s.stop) for s in procs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.redis.stop()
        self.pg.stop("immediate")
        self.pg.remove()

    def __enter__(self) -> "Topology":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def describe(self) -> str:
        lines = [f"  public (HAProxy → gateways): {self.url}/",
                 f"  staff console:               {self.url}/staff",
                 f"  HAProxy statistics:          {self.stats_url}",
                 f"  engines (HAProxy):           {self.engine_url}",
                 f"  action servers (HAProxy):    {self.actions_url}",
                 f"  PostgreSQL:                  {self.pg.url}/{{gateway,assistant,citydata,rasa}}",
                 f"  Redis:                       {self.redis.url(0)} (rate limits), /1 (Socket.IO, bus), /2 (lock store)"]
        for name, service in sorted(self.services.items()):
            lines.append(f"  {name:<28} {service.url}")
        lines.append(f"  logs:                        {self.run_dir}/logs/")
        return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", type=int, default=2)
    parser.add_argument("--actions", type=int, default=2)
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--city-data", type=Path, default=CITY_SAMPLE)
    parser.add_argument("--run-dir", type=Path, default=None)
    args = parser.parse_args()
    received: List[int] = []

    def on_signal(signum: int, _frame) -> None:
        # the first signal ends the start or the wait (the finally stops everything); a repeated one (make
        # forwards SIGTERM to its child too) must not abort the stopping half-way
        if not received:
            received.append(signum)
            raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    topo = Topology(args.run_dir, engines=args.engines, actions=args.actions, gateways=args.gateways,
                    city_data=args.city_data, engine_threads=1 if args.engines > 1 else None)
    log(f"starting {args.engines} engines × {args.actions} action servers × {args.gateways} gateways in {topo.run_dir} ...")
    try:
        topo.start()
        log(f"up in {topo.timings['total']:.0f}s ({', '.join(f'{k} {v:.1f}s' for k, v in topo.timings.items())})")
        print(topo.describe(), "\n  Ctrl-C stops everything.", flush=True)
        while not received:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        log("stopping ...")
        topo.stop()
        log("stopped.")


if __name__ == "__main__":
    main()
