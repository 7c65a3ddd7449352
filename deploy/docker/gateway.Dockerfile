# syntax=docker/dockerfile:1
# The gateway (python -m gateway: channels, router, staff console), one container per gateway. Build from the
# repository root:  docker build -f deploy/docker/gateway.Dockerfile -t sapporo-gateway .
# Several gateways need the shared settings (README "Operations"): GATEWAY_DB_URL, ASSISTANT_DB_URL,
# SOCKETIO_REDIS_URL, RATE_LIMIT_STORAGE_URL, WEBCHAT_SESSION_SECRET, COUNSELING_KEYS, and sticky sessions.
# 3.11: the version the gateway is tested on (make setup here); the pinned packages have wheels for it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PATH=/app/.venv/gateway/bin:$PATH \
    HOST=0.0.0.0 PORT=8000 DATA_DIR=/app/var LOG_FORMAT=json

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin gateway
WORKDIR /app

COPY . .
# Only the gateway extra (not gateway-test: no playwright in production)
RUN python -m venv /app/.venv/gateway && pip install -c constraints/gateway.txt -e ".[gateway]" \
    && mkdir -p /app/var && chown gateway:gateway /app/var

USER gateway
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=2)"
CMD ["python", "-m", "gateway"]
