"""What a citizen's message and its metadata must look like before anything stores or reads them.

Refused with a polite answer (gateway/texts.py), never a 500: lone surrogates (they cannot be written as UTF-8,
so the database write fails), NUL (PostgreSQL refuses it) and other control characters (tab and line breaks
are text), JSON nested too deep to parse (Python's parser raises RecursionError, not ValueError), bodies that
are not UTF-8 JSON objects. Widget metadata is the integrator's: too large, it is dropped; the keys the
gateway sets itself (``channel``, ``triage``) are never taken from it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Optional, Tuple

_BAD_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
RESERVED_METADATA = ("channel", "triage")


def has_bad_characters(text: str) -> bool:
    """A lone surrogate, NUL or a control character other than tab, CR and LF."""
    return bool(_BAD_CHARACTERS.search(text))


def parse_json_object(body: bytes) -> Dict[str, Any]:
    """A request body as a JSON object; ValueError for anything else (not UTF-8, not JSON, too deep, no object)."""
    try:
        value = json.loads(body.decode("utf-8"))
    except RecursionError:
        raise ValueError("nested too deep") from None
    except (UnicodeDecodeError, ValueError):
        raise ValueError("not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


def clean_metadata(metadata: Any, max_bytes: int) -> Tuple[Dict[str, Any], Optional[str]]:
    """(the metadata the engine may see, why some was dropped or None). Not an object, not serialisable, with
    bad characters or over ``max_bytes`` as JSON: dropped whole. Reserved keys: always dropped."""
    if metadata in (None, {}):
        return {}, None
    if not isinstance(metadata, dict):
        return {}, "metadata_not_object"
    try:
        size = len(json.dumps(metadata, ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError):
        return {}, "metadata_invalid"
    if size > max_bytes:
        return {}, "metadata_too_large"
    if any(has_bad_characters(text) for text in _strings(metadata)):
        return {}, "metadata_invalid"
    kept = {k: v for k, v in metadata.items() if k not in RESERVED_METADATA}
    return kept, ("metadata_reserved_key" if len(kept) != len(metadata) else None)


def _strings(value: Any):
    """Every key and string value inside ``value`` (iteratively: it may be nested deeply)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
