# Production image: gunicorn behind the bank's TLS-terminating proxy.
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=app:app . .
# collectstatic needs settings but no real secrets: throwaway ones are generated and deleted.
RUN DJANGO_DEV_SECRETS=1 LOCAL_STATE_DIR=/tmp/build-state python manage.py collectstatic --noinput -v0 \
 && rm -rf /tmp/build-state var .venv

USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://localhost:8000/healthz', timeout=4).status != 200)"

CMD ["gunicorn", "issuer_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logfile", "-"]
