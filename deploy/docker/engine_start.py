"""Start the Rasa engine in a container: endpoints.yml from the environment, then ``rasa run``.

The same variables as the tested topology (tools/scaleout.py, SCALEOUT contract):
    ENGINE_AUTH_TOKEN    the engine API's token (required: the gateway sends it for /status)
    ACTION_SERVER_URL    the action servers, e.g. http://haproxy:5056 (default http://actions:5055)
    TRACKER_STORE_URL    postgresql://user:password@host:5432/rasa (empty: SQLite in var/, one engine only)
    LOCK_STORE_URL       redis://[:password@]host:6379/2 (empty: in-memory lock, one engine only)
    LOCK_STORE_KEY_PREFIX  default "sapporo" (tools/endpoints.py)
    MODEL_SERVER_URL     pull the model from here (Rasa's `models:` endpoint; MODEL_SERVER_TOKEN, MODEL_PULL_SECONDS)
    MODEL_PATH           else this model file; else the newest models/*.tar.gz baked into the image
    ENGINE_PORT          default 5005
Rasa reads TICKET_LOCK_LIFETIME, SQL_POOL_SIZE, SQL_MAX_OVERFLOW and the TF_* thread counts from the
environment itself; those not set get tools/model.py's SERVING_DEFAULTS, as in the tested topology. Standard
library only.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def endpoints(env=os.environ) -> dict:
    """tools/endpoints.py's endpoints (as in the tested topology), plus the model server when one is set."""
    sys.path.insert(0, str(ROOT))
    from tools.endpoints import engine_endpoints

    (ROOT / "var" / "engine").mkdir(parents=True, exist_ok=True)
    result = engine_endpoints("http://actions:5055", ROOT / "var" / "engine" / "tracker.db", env)
    if env.get("MODEL_SERVER_URL"):
        result["models"] = {"url": env["MODEL_SERVER_URL"],
                            "wait_time_between_pulls": int(env.get("MODEL_PULL_SECONDS", "60"))}
        if env.get("MODEL_SERVER_TOKEN"):
            result["models"]["token"] = env["MODEL_SERVER_TOKEN"]
    return result


def model_file(env=os.environ) -> str:
    if env.get("MODEL_PATH"):
        return env["MODEL_PATH"]
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        sys.exit("no model: bake one into the image (make train before docker build, or --build-arg TRAIN=1), "
                 "set MODEL_PATH, or MODEL_SERVER_URL")
    return str(models[-1])


def main() -> None:
    token = os.environ.get("ENGINE_AUTH_TOKEN", "")
    if not token:
        sys.exit("ENGINE_AUTH_TOKEN is required (the same value as the gateways'): the engine API must not be open")
    config = endpoints()
    path = Path(os.environ.get("ENDPOINTS_FILE", "/tmp/endpoints.yml"))
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    cmd = ["rasa", "run", "--enable-api", f"--auth-token={token}", "-i", "0.0.0.0",
           "-p", os.environ.get("ENGINE_PORT", "5005"), "--endpoints", str(path), "--credentials",
           str(ROOT / "credentials.yml"), "--logging-config-file", str(ROOT / "bot" / "logging.yml")]
    if "models" not in config:
        cmd += ["-m", model_file()]
    sys.path.insert(0, str(ROOT))
    from tools.model import SERVING_DEFAULTS

    for name, value in SERVING_DEFAULTS.items():
        if not os.environ.get(name, "").strip():
            os.environ[name] = value
    os.chdir(ROOT)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
