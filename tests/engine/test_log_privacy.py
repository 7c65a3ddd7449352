"""The engine's log never carries a citizen's text: Rasa 3.6's own logging set-up (as `rasa run` does it, with
bot/logging.yml) and its structured REST-channel error line, which carries the user's text."""

import json
import logging
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import structlog
from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.log_utils import configure_structlog
configure_logging_and_warnings(None, "bot/logging.yml", warn_only_once=True, filter_repeated_logs=True)
configure_structlog(None)
structlog.get_logger().error("rest.message.received.timeout", text="死にたいと書いた秘密の文ZQ9")
structlog.get_logger().error("rest.message.received.failure", text="秘密の文ZQ9", sender_id="abc")
import logging
logging.getLogger("rasa.core.test").info("plain line stays")
"""


def test_rasa_structured_error_lines_lose_the_users_text():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "ZQ9" not in out
    assert "rest.message.received.timeout" in out and "rest.message.received.failure" in out
    assert "plain line stays" in out
    assert "[redacted]" in out


def test_the_filter_leaves_other_json_and_text_alone():
    from bot.log_privacy import WithoutCitizenText

    f = WithoutCitizenText()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, '{"event": "e", "sender_id": "s"}', (), None)
    assert f.filter(record) and record.getMessage() == '{"event": "e", "sender_id": "s"}'
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "{not json %s", ("a",), None)
    assert f.filter(record) and record.getMessage() == "{not json a"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, json.dumps({"event": "e", "user_text": "秘密"}), (), None)
    assert f.filter(record) and "秘密" not in record.getMessage()
