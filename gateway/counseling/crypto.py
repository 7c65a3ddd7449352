"""Counseling messages are encrypted at rest: Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``.

Keys come from ``COUNSELING_KEYS`` — one or more Fernet keys separated by commas, the newest FIRST. Every
key in the list can decrypt; only the first encrypts (``MultiFernet``). Rotation (README "Youth
counseling"): put a new key in front, restart the gateways, run ``python -m gateway.counseling.crypto
rotate`` (re-encrypts every stored counseling message with the newest key), then drop the old key.

Without ``COUNSELING_KEYS`` (one machine, ``make run``) a key is created once in ``<DATA_DIR>/counseling.key``
(mode 0600) and used from then on; a deployment with several gateways must set the variable instead.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import List, Optional, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

logger = logging.getLogger(__name__)

KEY_FILE = "counseling.key"
UNREADABLE = "（この相談メッセージは、現在の鍵では読めません）"


class TranscriptCipher:
    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(k.strip().encode("ascii")) for k in keys])

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            logger.error("a counseling message could not be decrypted (key missing from COUNSELING_KEYS?)")
            return UNREADABLE

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")


def load_keys(data_dir: str, env_value: Optional[str] = None) -> List[str]:
    """The keys from COUNSELING_KEYS, or the key file in the data folder (created on first use)."""
    value = os.environ.get("COUNSELING_KEYS", "") if env_value is None else env_value
    keys = [k.strip() for k in value.split(",") if k.strip()]
    if keys:
        return keys
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(Fernet.generate_key().decode("ascii") + "\n")
        logger.warning("created a counseling encryption key in %s (set COUNSELING_KEYS for several gateways)", path)
    return [path.read_text().strip()]


def cipher_for(data_dir: str) -> TranscriptCipher:
    return TranscriptCipher(load_keys(data_dir))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m gateway.counseling.crypto new-key | rotate [--db URL]``."""
    parser = argparse.ArgumentParser(prog="python -m gateway.counseling.crypto")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("new-key", help="print a new key to put first in COUNSELING_KEYS")
    rotate = sub.add_parser("rotate", help="re-encrypt every counseling message with the newest key")
    rotate.add_argument("--db", help="the gateway's database URL (default: GATEWAY_DB_URL or DATA_DIR's SQLite)")
    args = parser.parse_args(argv)
    if args.command == "new-key":
        print(Fernet.generate_key().decode("ascii"))
        return 0
    from gateway.storage.db import connect
    from gateway.storage.conversations import HandoffStore
    from gateway.settings import Settings

    settings = Settings.from_env()
    store = HandoffStore(connect(args.db or settings.database_url(), settings.sqlite_synchronous),
                         cipher_for(settings.data_dir))
    print(f"re-encrypted {store.rotate_protected()} counseling messages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
