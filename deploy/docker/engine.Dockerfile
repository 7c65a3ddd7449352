# syntax=docker/dockerfile:1
# The Rasa engine (rasa run --enable-api), one container per engine. Build from the repository root:
#   make train && docker build -f deploy/docker/engine.Dockerfile -t sapporo-engine .
# The model: baked in from models/ (the default: `make train` first; the newest models/*.tar.gz is used unless
# MODEL_PATH names one), trained while building (--build-arg TRAIN=1, a few minutes), or pulled at run time
# from a model server (MODEL_SERVER_URL: Rasa's `models:` endpoint). Configuration by environment, see
# deploy/docker/engine_start.py (TRACKER_STORE_URL, LOCK_STORE_URL, ACTION_SERVER_URL, ENGINE_AUTH_TOKEN, …).
FROM python:3.10-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1 PYTHONWARNINGS=ignore \
    LOG_LEVEL=INFO PATH=/app/.venv/engine/bin:$PATH

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin rasa
WORKDIR /app

# The pinned environment first (a layer of its own: changes only with constraints/engine.txt), in the same place
# as `make setup` puts it, so tools/model.py works unchanged inside the image.
COPY constraints/engine.txt constraints/engine.txt
RUN python -m venv /app/.venv/engine && pip install -r constraints/engine.txt
COPY . .
RUN pip install -c constraints/engine.txt -e ".[engine]"

ARG TRAIN=0
RUN if [ "$TRAIN" = "1" ]; then python tools/model.py ensure; fi \
    && mkdir -p /app/var /app/.rasa && chown -R rasa:rasa /app/var /app/.rasa /app/models 2>/dev/null || true

USER rasa
ENV HOME=/home/rasa
EXPOSE 5005
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5005/', timeout=2)"
ENTRYPOINT ["python", "deploy/docker/engine_start.py"]
