"""Keep citizens' words out of the engine's logs.

Rasa 3.6 writes some structured (structlog, JSON) log lines with the user's text in them — e.g.
``rest.message.received.timeout`` and ``rest.message.received.failure`` carry ``text`` at ERROR level, so a slow
turn would put what a citizen (maybe a child) wrote into the log. Rasa's own anonymizer runs only with a Rasa Pro
plugin. This filter sits on the engine's log handler (bot/logging.yml, passed with ``--logging-config-file`` by
tools/stack.py, tools/scaleout.py and the engine image) and replaces the values of those keys.
"""

from __future__ import annotations

import json
import logging

# The keys Rasa 3.6's own anonymizer treats as personal (rasa/utils/log_utils.py ``_anonymizer``).
PERSONAL_KEYS = frozenset((
    "text", "response_text", "user_text", "slot_values", "parse_data_text", "parse_data_entities",
    "prediction_events", "tracker_latest_message", "prefilled_slots", "message", "response", "slot_candidates",
    "rasa_event", "rasa_events", "tracker_states", "current_states", "old_states", "successes", "current_entity",
    "next_entity", "states", "entity", "token_text", "user_message", "json_message",
))
REDACTED = "[redacted]"


class WithoutCitizenText(logging.Filter):
    """Replaces personal values in JSON log lines; other lines pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith("{"):
            return True
        try:
            data = json.loads(message)
        except ValueError:
            return True
        if isinstance(data, dict) and PERSONAL_KEYS.intersection(data):
            record.msg = json.dumps({k: REDACTED if k in PERSONAL_KEYS else v for k, v in data.items()},
                                    ensure_ascii=False)
            record.args = ()
        return True
