# Klaxon's container image: `klaxon` is the entry point; the command picks the process
#   docker run IMAGE web | worker | engine | migrate | preflight | alive worker|engine
# Configured only by the environment (DATABASE_URL, REDIS_URL, KLAXON_SECRET_KEY, …; see the
# README's Configuration). web listens on $PORT (default 5000).
#
# The build stage runs deploy/build.sh, the same script the slug test runs natively
# (tests/system/test_slug.py): the wheel, and exactly uv.lock's dependencies with their hashes,
# into /opt/klaxon. The final stage holds that virtualenv and nothing else: no compilers, no
# embedded Postgres/Redis (the `embedded` extra is for `klaxon dev` only), no source tree.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN pip install "uv>=0.9,<1"
COPY pyproject.toml uv.lock README.md .python-version ./
COPY app ./app
COPY workers ./workers
COPY config ./config
COPY migrations ./migrations
COPY deploy/build.sh ./deploy/build.sh
RUN DIST=/tmp/dist deploy/build.sh /opt/klaxon

FROM python:${PYTHON_VERSION}-slim
# No .pyc writes at run time (the root filesystem may be read-only); logs unbuffered.
ENV PATH=/opt/klaxon/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=5000
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /app klaxon
COPY --from=build /opt/klaxon /opt/klaxon
COPY Procfile /app/Procfile
WORKDIR /app
# Non-root, and nothing to write but the temporary folder (gunicorn's worker heartbeats, the
# worker's and engine's liveness promises): Klaxon keeps all state in Postgres and Redis.
USER 10001:10001
EXPOSE 5000
# SIGTERM: gunicorn finishes requests (20 s), a worker its job, the engine its cycle; all exit
# 0 within 30 s, so give containers a stop timeout of 30 s (`docker stop -t 30`, compose's
# stop_grace_period, Kubernetes' terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["klaxon"]
CMD ["web"]
