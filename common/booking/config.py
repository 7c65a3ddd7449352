"""Where the city-editable booking data lives, and how it is read.

PyYAML is imported only when a file is read: the gateway environment has no PyYAML and uses only
the booking store, which needs no YAML.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "data" / "bulky"
FEES_FILE = DATA_DIR / "fees.yml"
SCHEDULE_FILE = DATA_DIR / "schedule.yml"

_lock = threading.Lock()
_cache: Dict[Tuple[str, str], Tuple[float, Any]] = {}


def load_cached(path: Path, build: Callable[[dict], Any], kind: str) -> Any:
    """``build(yaml data)`` of ``path``, rebuilt when the file changes (the city edits it while running)."""
    path = Path(path)
    mtime = path.stat().st_mtime
    key = (kind, str(path.resolve()))
    with _lock:
        cached = _cache.get(key)
        if cached and cached[0] == mtime:
            return cached[1]
    import yaml

    value = build(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    with _lock:
        _cache[key] = (mtime, value)
    return value
