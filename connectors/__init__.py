"""The channels the gateway speaks: the website widget (webchat.py, Socket.IO) and LINE (line/)."""
