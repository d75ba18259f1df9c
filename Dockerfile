# sentiment-rnn serving image: CPU-only torch, runtime dependencies only, the shipped checkpoint,
# non-root, read-only-root-filesystem friendly.
#
#   docker build -t sentiment-rnn .
#   docker run --rm -p 8000:8000 --read-only --tmpfs /tmp sentiment-rnn
#
# torch comes from the PyTorch CPU wheel index (TORCH_INDEX_URL), or, where a torch-*.whl lies in
# ./wheels of the build context, from that folder instead (for builds that cannot reach the index).
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# binutils (builder only): `strip` for torch's shared libraries, shipped with their symbol tables
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/* \
    && python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build

# Dependencies first (their layer survives source edits): [project].dependencies of pyproject.toml,
# pinned by constraints.txt. No dev/train extras. `wheel[s]` matches nothing when ./wheels is absent.
# Serving never imports torch's dependencies sympy, mpmath and networkx (a test serves every
# route with them unimportable): uninstalled.
# Inference needs none of torch's headers, C++ test binaries or CMake files (~200 MB): removed;
# the libraries lose their static symbol tables (~90 MB; the dynamic symbols stay).
COPY pyproject.toml constraints.txt wheel[s] ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > requirements.txt \
    && if [ -n "$(find . -maxdepth 1 -name 'torch-*.whl')" ]; then set -- --find-links .; \
       else set -- --extra-index-url "${TORCH_INDEX_URL}"; fi \
    && pip install "$@" -c constraints.txt -r requirements.txt \
    && pip uninstall -y sympy mpmath networkx \
    && pip uninstall -y pip setuptools \
    && site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && rm -rf "$site"/torch/include "$site"/torch/test "$site"/torch/share/cmake \
              "$site"/torch/lib/lib*test*.so \
    && find "$site"/torch/bin -type f ! -name torch_shm_manager -delete \
    && strip --strip-unneeded "$site"/torch/lib/*.so* \
    && python -W "ignore:Failed to initialize NumPy" -c "import torch; assert not torch.cuda.is_available(); print('torch', torch.__version__)"

# ---------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
# NumPy is not installed (the service never uses it); torch's import-time notice about it is muted.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    PYTHONWARNINGS="ignore:Failed to initialize NumPy" \
    SENTIMENT_HOST=0.0.0.0 \
    SENTIMENT_PORT=8000 \
    SENTIMENT_WORKERS=1 \
    SENTIMENT_TORCH_THREADS=1 \
    OMP_NUM_THREADS=1
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# root-owned and read-only for the service user; byte-code compiled now, never written at run time
COPY model/ model/
COPY service/ service/
RUN python -m compileall -q model service \
    && test -f model/artifacts/sentiment-rnn.pt
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SENTIMENT_PORT', '8000'), timeout=4)"]
CMD ["python", "-m", "service"]
