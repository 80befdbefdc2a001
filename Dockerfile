# netinv: the audit pipeline in a container. CPU torch by default; the same lock file as
# the Makefile, less the CUDA runtime wheels (docker/requirements-for.sh).
#   docker build -t netinv .                                   # CPU
#   docker build --build-arg TORCH_VARIANT=cuda -t netinv:cuda .  # CUDA (run with --gpus all)
#   docker run --rm -v "$PWD/work:/app/work" netinv                 # the pipeline (dvc repro)
#   docker run --rm -p 5000:5000 netinv mlflow ui --backend-store-uri sqlite:////app/mlflow.db --host 0.0.0.0
#   docker run --rm netinv prefect worker start --pool netinv       # a Prefect worker
FROM python:3.11-slim-bookworm

ARG TORCH_VARIANT=cpu
ARG TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# git for DVC, make for the Makefile targets, the default dataset from Debian (pinned:
# it is data); git and make follow Debian's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git make dataset-fashion-mnist=0.0~git20200523.55506a9-1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock pyproject.toml ./
COPY docker/requirements-for.sh docker/
SHELL ["/bin/sh", "-eu", "-c"]
# hadolint ignore=SC2046
RUN python -m venv /opt/venv \
    && docker/requirements-for.sh "$TORCH_VARIANT" < requirements.lock > /tmp/requirements.txt \
    && if [ "$TORCH_VARIANT" = cpu ]; then \
         pip install --index-url "$TORCH_CPU_INDEX" $(grep -E '^(torch|torchvision)==' requirements.lock); \
       fi \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps -e . \
    && useradd --create-home --uid 10001 netinv \
    && chown -R netinv:netinv /app

USER 10001
RUN git config --global user.email "netinv@localhost" \
    && git config --global user.name "netinv" \
    && git config --global --add safe.directory /app

CMD ["sh", "-c", "git init -q 2>/dev/null; dvc repro"]
