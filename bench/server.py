"""Start and stop `streamlit run` servers on free loopback ports for the benchmark."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
MINIMAL_APP = ROOT / "bench" / "minimal_app.py"
STARTUP_TIMEOUT_S = 60.0
# Streamlit keeps a disconnected session this long for a reconnect (default 120 s).
# A short TTL lets the after-close memory reading show what closed sessions free.
SESSION_TTL_S = 2


def stop_with_parent() -> None:
    """In the child before exec: ask Linux to send SIGTERM when the benchmark exits.

    A benchmark killed by its timeout or by Ctrl-C then leaves no server behind.
    """
    pr_set_pdeathsig = 1  # from <linux/prctl.h>
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago, by binding port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_bytes(pid: int) -> int:
    """Resident set size of process `pid`, from VmRSS in /proc/PID/status."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024  # reported in kB
    raise RuntimeError(f"VmRSS missing from /proc/{pid}/status")


@dataclass
class Server:
    """A running `streamlit run` process serving `script` on 127.0.0.1:`port`."""

    script: Path
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def stop(self) -> None:
        """Terminate the server by its own pid, then kill it if it does not exit."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                logger.warning("server pid %d ignored SIGTERM; killing it", self.pid)
                self.process.kill()
                self.process.wait(timeout=10)
        logger.info("stopped server for %s on port %d", self.script.name, self.port)


def start_server(
    script: Path, log_dir: Path, options: dict[str, str] | None = None
) -> Server:
    """Start `streamlit run script` on a free loopback port and wait for /_stcore/health.

    The project's `.streamlit/config.toml` applies because the server runs in the
    project root; `options` adds or overrides `--section.name value` flags.
    """
    port = free_port()
    flags = {
        "server.address": "127.0.0.1",
        "server.port": str(port),
        "server.headless": "true",
        "server.disconnectedSessionTTL": str(SESSION_TTL_S),
        "browser.gatherUsageStats": "false",
        **(options or {}),
    }
    command = [sys.executable, "-m", "streamlit", "run", str(script)]
    for name, value in flags.items():
        command += [f"--{name}", value]
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"server-{script.stem}-{port}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=stop_with_parent if sys.platform == "linux" else None,
        )
    server = Server(script, port, process, log_path)
    try:
        wait_healthy(server)
    except BaseException:
        server.stop()
        raise
    logger.info("started %s on port %d (pid %d)", script.name, port, server.pid)
    return server


def wait_healthy(server: Server, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """Poll http://127.0.0.1:PORT/_stcore/health until it returns 200."""
    url = f"http://127.0.0.1:{server.port}/_stcore/health"
    # An empty ProxyHandler ignores proxy variables, so the request stays on loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"streamlit exited with code {server.process.returncode}; see {server.log_path}"
            )
        try:
            with opener.open(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise TimeoutError(
        f"streamlit on port {server.port} not healthy after {timeout_s:.0f} s; see {server.log_path}"
    )
