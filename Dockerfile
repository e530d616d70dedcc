# MLP Explorer as one Streamlit server process. docs/deployment.md runs several of
# these behind a load balancer with sticky sessions.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed non-root user. Its home directory is where Streamlit keeps its own files.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app

WORKDIR /app

# torch comes from PyTorch's CPU wheel index first. From PyPI, torch 2.13.0 for Linux
# x86_64 also pulls in the CUDA libraries, several GB that a CPU-only server never
# uses. requirements.txt pins torch==2.13.0, which the installed 2.13.0+cpu satisfies
# (PEP 440 ignores the local "+cpu" label), so the second install keeps it.
COPY requirements.txt .
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && pip install -r requirements.txt

COPY --chown=app:app app.py ./
COPY --chown=app:app .streamlit/ ./.streamlit/
COPY --chown=app:app components/ ./components/
COPY --chown=app:app mlp/ ./mlp/

USER app

# .streamlit/config.toml holds the production settings: headless, no file watcher,
# XSRF protection, no usage statistics, postScriptGC off. The container only adds
# the address to listen on. Every replica of one deployment must get the same
# server.cookieSecret, for example from a secret store:
#   docker run -e STREAMLIT_SERVER_COOKIE_SECRET=... mlp-explorer
ENV STREAMLIT_SERVER_ADDRESS=0.0.0.0

EXPOSE 8501

# python:3.11-slim has no curl, so the check uses Python's urllib, with no proxy so
# that a proxy set in the environment never sees the request.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:8501/_stcore/health', timeout=4).status != 200)"]

CMD ["streamlit", "run", "app.py"]
