"""One store and one item matcher per action-server process, rebuilt when new city data is loaded."""

from __future__ import annotations

import threading
from typing import Dict, Tuple

from bot.knowledge.citydata.store import CityDataStore
from bot.knowledge.item_matcher import ItemMatcher, load_synonyms

_lock = threading.Lock()
_state: Dict[str, object] = {}


def store() -> CityDataStore:
    with _lock:
        if "store" not in _state:
            _state["store"] = CityDataStore()
        return _state["store"]  # type: ignore[return-value]


def matcher() -> ItemMatcher:
    """The matcher for the data currently loaded (rebuilt after `make load-city-data`)."""
    current = store()
    version = current.metadata().get("loaded_at")
    with _lock:
        cached: Tuple[object, ItemMatcher] = _state.get("matcher")  # type: ignore[assignment]
        if cached is None or cached[0] != version:
            cached = (version, ItemMatcher(current.items(), load_synonyms()))
            _state["matcher"] = cached
        return cached[1]
