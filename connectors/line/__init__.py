"""The LINE channel: webhook and message conversion (channel.py), Messaging API client (api.py)."""
