"""The gateway service: app composition, settings, texts, storage, the handoff router, counseling, the staff
console and its jobs. Channels live in ``connectors/``; what the engine shares with it, in ``common/``."""
