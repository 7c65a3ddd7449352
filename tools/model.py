"""Train the Rasa model only when its inputs changed.

The model is named after a fingerprint of everything that shapes it (config, domain, training data,
the custom NLU code), so "is there a model for the current inputs?" is one file lookup, not a Rasa start.
Standard library only: `make` runs it with any Python.

    python tools/model.py path      # print the model path for the current inputs
    python tools/model.py ensure    # train (with .venv/engine's rasa) unless that model exists
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / "models"
# Only what shapes the model: city data and matcher vocabularies under data/ are read at run time.
TRAINING_DATA = ["data/nlu", "data/rules", "data/stories"]
INPUTS = ["config.yml", "domain.yml", *TRAINING_DATA, "bot/nlu/tokenizer.py", "bot/nlu/normalize.py", "bot/nlu/morphology.py",
          "bot/nlu/unknown_words.py", "constraints/engine.txt"]
# Not bot/nlu/front_door.py: it learns nothing at training time, and Rasa loads its code when the model loads.
ENGINE_BIN = ROOT / ".venv" / "engine" / "bin"


def _input_files():
    for name in INPUTS:
        path = ROOT / name
        if path.is_file():
            yield path
        elif path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and p.suffix in {".yml", ".yaml", ".py", ".json", ".txt"}:
                    yield p


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in _input_files():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path() -> Path:
    return MODELS_DIR / f"nlu-core-{fingerprint()}.tar.gz"


# What a serving engine (rasa run) and action server get unless the environment says otherwise; the variables are
# the ones Rasa 3.6 reads (rasa/core/lock_store.py, rasa/core/constants.py, rasa/utils/tensorflow/environment.py).
SERVING_DEFAULTS = {
    # Seconds a conversation's ticket lock lives (Rasa: 60). Longer than the gateway's ENGINE_TIMEOUT (20 s), so a
    # turn the gateway still waits for keeps its lock; short enough that after an engine is killed mid-turn its
    # Redis lock frees the conversation within half a minute instead of a full one.
    "TICKET_LOCK_LIFETIME": "30",
    # The tracker store's PostgreSQL pool per engine (Rasa: 50 + 100 overflow, so two engines could ask for 300
    # connections of PostgreSQL's default max_connections=100). Rasa uses the store synchronously on its one event
    # loop thread: a handful of connections is enough.
    "SQL_POOL_SIZE": "5",
    "SQL_MAX_OVERFLOW": "10",
    # TensorFlow's thread pools (DIET, TED): by default each engine gets a pool of one thread per core for each
    # operation and another for running operations side by side. A turn is a few small matrix products; several
    # engines, action servers and gateways share the cores, so one thread each avoids oversubscription (more
    # engines scale better than more threads). Training (`make train`) keeps TensorFlow's defaults.
    "TF_INTRA_OP_PARALLELISM_THREADS": "1",
    "TF_INTER_OP_PARALLELISM_THREADS": "1",
}


def engine_env(serving: bool = False) -> dict:
    """Environment for Rasa processes: quiet, offline, no telemetry; ``serving`` (rasa run, the action server)
    adds SERVING_DEFAULTS where the environment does not set them."""
    env = dict(os.environ)
    env.update(
        # DEBUG would make Rasa log message texts; counseling text must never reach the logs.
        LOG_LEVEL=os.environ.get("ENGINE_LOG_LEVEL", "INFO"),
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        PYTHONWARNINGS="ignore",
    )
    if serving:
        for name, value in SERVING_DEFAULTS.items():
            if not env.get(name, "").strip():
                env[name] = value
    return env


def ensure() -> Path:
    target = model_path()
    if target.exists():
        print(f"model up to date: {target.relative_to(ROOT)}")
        return target
    MODELS_DIR.mkdir(exist_ok=True)
    print(f"training model {target.name} (inputs changed) ...", flush=True)
    cmd = [
        str(ENGINE_BIN / "rasa"), "train",
        "--config", "config.yml", "--domain", "domain.yml", "--data", *TRAINING_DATA,
        "--out", str(MODELS_DIR), "--fixed-model-name", target.name[: -len(".tar.gz")],
    ]
    subprocess.run(cmd, cwd=ROOT, env=engine_env(), check=True)
    if not target.exists():
        sys.exit(f"rasa train finished but {target} is missing")
    # Keep the three newest models; older ones only take disk space.
    for old in sorted(MODELS_DIR.glob("nlu-core-*.tar.gz"), key=lambda p: p.stat().st_mtime)[:-3]:
        old.unlink()
    return target


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "path"
    if command == "path":
        print(model_path())
    elif command == "ensure":
        ensure()
    else:
        sys.exit(__doc__)
