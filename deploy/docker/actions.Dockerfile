# syntax=docker/dockerfile:1
# The action server (rasa run actions), one container per server; stateless (bookings and the unanswered log in
# ASSISTANT_DB_URL, the city data in CITYDATA_DB_URL, both PostgreSQL when there are several). Build from the
# repository root:  docker build -f deploy/docker/actions.Dockerfile -t sapporo-actions .
FROM python:3.10-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1 PYTHONWARNINGS=ignore \
    LOG_LEVEL=INFO PATH=/app/.venv/engine/bin:$PATH

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin rasa
WORKDIR /app

COPY constraints/engine.txt constraints/engine.txt
RUN python -m venv /app/.venv/engine && pip install -r constraints/engine.txt
COPY . .
RUN pip install -c constraints/engine.txt -e ".[engine]" && mkdir -p /app/var && chown rasa:rasa /app/var

USER rasa
ENV HOME=/home/rasa SANIC_HOST=0.0.0.0
EXPOSE 5055
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5055/health', timeout=2)"
CMD ["rasa", "run", "actions", "--actions", "actions", "-p", "5055"]
