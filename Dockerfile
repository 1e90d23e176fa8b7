# syntax=docker/dockerfile:1
# Production image: gunicorn (gunicorn.conf.py) behind the bank's TLS-terminating proxy.
# BASE: any Debian-like image with Python 3.11+ and its venv module (python:3.11-slim by default;
# `make image-test` builds on a local Debian base).
ARG BASE=python:3.11-slim
FROM ${BASE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

# The app user owns nothing in the image: it cannot change the code it runs.
RUN echo "app:x:10001:10001:issuer portal:/app:/usr/sbin/nologin" >> /etc/passwd \
 && echo "app:x:10001:" >> /etc/group \
 && mkdir /state && chown 10001:10001 /state
# The one place the app may write (staging's sandbox material); mount a volume or emptyDir here.
ENV LOCAL_STATE_DIR=/state

WORKDIR /app
COPY requirements.txt .
# Behind a bank's package mirror or TLS-inspecting proxy, pass its CA bundle as the build secret
# pip_ca (docker build --secret id=pip_ca,src=ca.pem); it is used for this step only.
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
 && python3 -m venv /opt/venv && pip install -r requirements.txt

COPY . .
# The catalogues and collectstatic need settings but no real secrets or services: throwaway ones,
# deleted after. An incomplete translation fails the build.
RUN export DJANGO_DEV_SECRETS=1 LOCAL_STATE_DIR=/tmp/build-state VIPPS_SANDBOX=1 \
    TOKEN_SERVICE_ADAPTER=simulator \
 && python manage.py compile_translations \
 && python manage.py collectstatic --noinput -v0 \
 && rm -rf /tmp/build-state var .venv \
 && chown -R root:root /app /opt/venv && chmod -R go-w /app /opt/venv

USER app
EXPOSE 8000
# /healthz is liveness without I/O and never redirected to https.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://localhost:8000/healthz', timeout=4).status != 200)"

CMD ["gunicorn", "-c", "gunicorn.conf.py", "issuer_portal.wsgi:application"]
