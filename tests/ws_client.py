"""A minimal Streamlit websocket client and a `streamlit run` server for protocol tests.

The client sends the browser's `BackMsg` protobufs (a rerun with widget states, a
cache clear) and collects the `ForwardMsg` deltas of each script run. A test can so
send values that no browser widget would let a user enter. Only loopback
servers that the tests start are ever contacted.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
STREAMLIT = Path(sys.executable).with_name("streamlit")
HOST = "127.0.0.1"
SERVER_START_TIMEOUT_S = 90
RUN_TIMEOUT_S = 60
# Frames of the largest page are about 1 MB; this leaves room without being unbounded.
MAX_FRAME_BYTES = 64 * 2**20


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A `streamlit run` process on a loopback port, with its log file."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/_stcore/stream"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def wait_healthy(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    url = f"http://{HOST}:{port}/_stcore/health"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.2)
    raise TimeoutError(
        f"streamlit did not answer {url} within {SERVER_START_TIMEOUT_S} s"
    )


@contextlib.contextmanager
def streamlit_server(
    log_path: Path, app: Path = ROOT / "app.py", *args: str
) -> Iterator[Server]:
    """Run `streamlit run app` from the project root, so it reads .streamlit/config.toml."""
    port = free_port()
    command = [
        str(STREAMLIT),
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.address",
        HOST,
        "--server.headless",
        "true",
        *args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env
        )
    try:
        wait_healthy(port, process, log_path)
        yield Server(port, process, log_path)
    finally:
        stop_server(process)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop a server process the tests started, killing it if it ignores SIGTERM."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class PageRun:
    """The elements one script run sent, in the order they arrived."""

    elements: list = field(default_factory=list)
    finished: str = ""
    max_frame_bytes: int = 0  # the largest ForwardMsg of the run
    total_bytes: int = 0

    def of_type(self, kind: str) -> list:
        return [e for e in self.elements if e.WhichOneof("type") == kind]

    def alerts(self, alert_format: int) -> list[str]:
        return [
            e.alert.body
            for e in self.of_type("alert")
            if e.alert.format == alert_format
        ]

    @property
    def warnings(self) -> list[str]:
        return self.alerts(2)  # Alert.Format.WARNING

    @property
    def errors(self) -> list[str]:
        return self.alerts(1)  # Alert.Format.ERROR

    @property
    def exceptions(self) -> list:
        return [e.exception for e in self.of_type("exception")]

    @property
    def metrics(self) -> dict[str, str]:
        return {e.metric.label: e.metric.body for e in self.of_type("metric")}

    @property
    def code_texts(self) -> list[str]:
        return [e.code.code_text for e in self.of_type("code")]

    def widget(self, key: str):
        """The element of the widget with user key `key`; its proto has the id."""
        suffix = f"-{key}"
        for element in self.elements:
            proto = getattr(element, element.WhichOneof("type"))
            if getattr(proto, "id", "").endswith(suffix):
                return proto
        raise KeyError(f"no widget with key {key!r} in this run")


class StreamlitClient:
    """One browser session, driven by raw protocol messages."""

    def __init__(self, server: Server) -> None:
        self.connection: ClientConnection = connect(
            server.ws_url,
            subprotocols=["streamlit"],
            max_size=MAX_FRAME_BYTES,
            open_timeout=30,
            legacy=True,  # a plain connection object; close() ends it
        )
        self.widget_ids: dict[str, str] = {}
        self.last: PageRun | None = None
        self.session_id = ""

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> StreamlitClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, msg: BackMsg) -> None:
        self.connection.send(msg.SerializeToString())

    def request_rerun(
        self, states: list[WidgetState] = (), query_string: str = ""
    ) -> None:
        msg = BackMsg()
        msg.rerun_script.query_string = query_string
        msg.rerun_script.widget_states.widgets.extend(states)
        self.send(msg)

    def clear_cache(self) -> None:
        msg = BackMsg()
        msg.clear_cache = True
        self.send(msg)

    def run(
        self,
        states: list[WidgetState] = (),
        query_string: str = "",
        timeout: float = RUN_TIMEOUT_S,
    ) -> PageRun:
        """Request a rerun with `states` and return the elements of the run it starts."""
        self.request_rerun(states, query_string)
        return self.collect_run(timeout)

    def collect_run(self, timeout: float = RUN_TIMEOUT_S) -> PageRun:
        """Read messages until a script run finishes; return that run's elements."""
        deadline = time.monotonic() + timeout
        page = PageRun()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no finished script run within {timeout} s")
            frame = self.connection.recv(timeout=remaining)
            msg = ForwardMsg()
            msg.ParseFromString(frame)
            page.max_frame_bytes = max(page.max_frame_bytes, len(frame))
            page.total_bytes += len(frame)
            kind = msg.WhichOneof("type")
            if kind == "ref_hash":
                raise AssertionError("server sent a cached-message reference")
            if kind == "new_session":
                page = PageRun()
                if msg.new_session.HasField("initialize"):
                    self.session_id = msg.new_session.initialize.session_id
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                page.elements.append(msg.delta.new_element)
                self.remember_widget(msg.delta.new_element)
            elif kind == "script_finished":
                page.finished = ForwardMsg.ScriptFinishedStatus.Name(
                    msg.script_finished
                )
                if page.finished != "FINISHED_EARLY_FOR_RERUN":
                    self.last = page
                    return page
                page = PageRun()

    def remember_widget(self, element) -> None:
        proto = getattr(element, element.WhichOneof("type"))
        widget_id = getattr(proto, "id", "")
        if widget_id.startswith("$$ID-"):
            self.widget_ids[widget_id.rsplit("-", 1)[-1]] = widget_id

    def state(self, key: str, **value) -> WidgetState:
        """A widget state for the widget with user key `key`, e.g. int_value=5."""
        widget = WidgetState(id=self.widget_ids[key])
        for name, item in value.items():
            if name.endswith("_array_value"):
                getattr(widget, name).data.extend(item)
            else:
                setattr(widget, name, item)
        return widget


XSRF_COOKIE = "_streamlit_xsrf"


def xsrf_token(server: Server) -> str:
    """The XSRF cookie the server sets; an upload must send it back in a header."""
    url = f"http://{HOST}:{server.port}/_stcore/health"  # the health check sets it
    with urllib.request.urlopen(url, timeout=10) as response:
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            if name.strip() == XSRF_COOKIE:
                return rest.split(";", 1)[0]
    raise AssertionError("the server set no XSRF cookie")


def upload_file(
    server: Server, session_id: str, file_id: str, data: bytes, token: str
) -> int | None:
    """PUT `data` as a multipart file upload, as the browser's file_uploader does.

    Returns the HTTP status code, or None when the server closed the connection
    before the body was sent, which it does after a 413 for a too-large declared size.
    """
    boundary = "mlpexplorer-test-boundary"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{file_id}.pt"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"http://{HOST}:{server.port}/_stcore/upload_file/{session_id}/{file_id}",
        data=body,
        method="PUT",
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-Xsrftoken": token,
            "Cookie": f"{XSRF_COOKIE}={token}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except urllib.error.URLError as err:
        if isinstance(err.reason, (ConnectionResetError, BrokenPipeError)):
            return None
        raise


def rss_bytes(pid: int) -> int:
    """Resident memory of process `pid`, from /proc (Linux only)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")
