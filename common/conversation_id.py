"""The one place that builds and reads conversation ids, in both services.

A conversation is ``<channel>:<id in the channel>``: ``line:U4af4980629…`` (a LINE user id),
``web:f6f0b2bb…`` (a widget session), ``rest:<sender>``. After a person hands a chat back to the bot, the
engine gets a fresh tracker under ``<conversation>#<n>`` (``line:U4af…#2``) so the old dialogue state does
not come back; the gateway keeps one conversation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConversationId:
    channel: str
    user: str  # the id in the channel: a LINE user id, a widget session id
    session: int = 0  # the engine session after hand-backs (0: the first)

    @classmethod
    def parse(cls, text: str) -> "ConversationId":
        """``line:U123#2`` → ConversationId("line", "U123", 2); a text without a channel is the ``rest`` channel's."""
        base, _, session = text.partition("#")
        channel, sep, user = base.partition(":")
        if not sep:
            channel, user = "rest", base
        return cls(channel, user, int(session) if session.isdigit() else 0)

    @property
    def conversation(self) -> str:
        """What the gateway stores: ``line:U123``."""
        return f"{self.channel}:{self.user}"

    @property
    def engine_sender(self) -> str:
        """What the engine's tracker is called: ``line:U123``, or ``line:U123#2`` after a hand-back."""
        return f"{self.conversation}#{self.session}" if self.session else self.conversation

    def __str__(self) -> str:
        return self.conversation
