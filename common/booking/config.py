"""Where the city-editable booking data lives, and how it is read; the booking's settings (environment).

PyYAML is imported only when a file is read: the gateway environment has no PyYAML and uses only
the booking store, which needs no YAML.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

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


# ---- abuse limits (issue #13) ----

@dataclass(frozen=True)
class AbuseLimits:
    """How many open (booked, not yet collected) bookings one phone number and one chat user may have, and
    when the receipt number + phone look-up locks. 0 switches a count off."""

    max_open_per_phone: int = 3
    max_open_per_conversation: int = 3
    lookup_max_failures: int = 5
    lookup_lock_minutes: int = 30

    @classmethod
    def off(cls) -> "AbuseLimits":
        return cls(0, 0, 0, cls.lookup_lock_minutes)


_LIMIT_SETTINGS = {  # environment variable → (field, smallest value)
    "BOOKING_MAX_OPEN_PER_PHONE": ("max_open_per_phone", 0),
    "BOOKING_MAX_OPEN_PER_CONVERSATION": ("max_open_per_conversation", 0),
    "BOOKING_LOOKUP_MAX_FAILURES": ("lookup_max_failures", 0),
    "BOOKING_LOOKUP_LOCK_MINUTES": ("lookup_lock_minutes", 1),
}


def abuse_limits(environ: Optional[Mapping[str, str]] = None) -> AbuseLimits:
    """The limits from the environment (defaults where unset); a value that is no whole number in range is
    refused with the variable's name, never taken as "no limit"."""
    environ = os.environ if environ is None else environ
    values = {}
    for variable, (field, smallest) in _LIMIT_SETTINGS.items():
        raw = (environ.get(variable) or "").strip()
        if not raw:
            continue
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or value < smallest:
            raise ValueError(f"{variable} must be a whole number of at least {smallest}, not {raw!r}")
        values[field] = value
    return AbuseLimits(**values)
