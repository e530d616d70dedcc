"""A simulated browser tab that speaks Streamlit 1.67's websocket protocol.

The client connects to `/_stcore/stream`, sends `BackMsg.rerun_script` requests
carrying widget states, and reads `ForwardMsg`s until `script_finished`. It keeps
a forward-message cache the way the 1.67 frontend does, so the bytes it counts are
the bytes a browser with a warm cache receives:

- a `ForwardMsg` whose `metadata.cacheable` is set is stored under its `hash`;
- every rerun request lists the stored hashes in `cached_message_hashes`, and the
  server then sends a small `ref_hash` message instead of a stored one;
- after each finished full run, entries not used for more than
  `new_session.config.max_cached_message_age` runs are dropped.

Only the widgets a request changes are sent. The server keeps every other widget's
last value, so the script does the same work as for a browser, which sends all of them.

Streamlit 1.67 creates its listening socket with protocol 0, so asyncio does not set
TCP_NODELAY on the connections it accepts. The server's Nagle algorithm then holds
the rest of a run's messages back until the client acknowledges the first one, and a
Linux client delays that acknowledgement by 40 ms. With `prompt_ack` (the default) the
client sets TCP_QUICKACK around every read, so a measured time is the server's work;
without it, the time is what a Linux browser waits.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

logger = logging.getLogger(__name__)

STREAM_PATH = "/_stcore/stream"
FINISHED_OK = {
    ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY,
    ForwardMsg.ScriptFinishedStatus.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
}
# Field of `WidgetState` each element type's value travels in (Streamlit 1.67).
VALUE_FIELDS = {
    "slider": "double_array_value",
    "number_input": "double_value",
    "checkbox": "bool_value",
    "text_input": "string_value",
    "text_area": "string_value",
}


class ProtocolError(RuntimeError):
    """The server sent something a browser would reject or report as an error."""


@dataclass
class RunResult:
    """Timing, size and problems of the messages one script run sent."""

    latency_s: float  # from sending the request to receiving script_finished
    num_bytes: int  # every ForwardMsg of the run, as received
    num_messages: int
    num_ref_messages: int  # ref_hash messages that replaced cached ones
    bytes_by_element: dict[str, int] = field(default_factory=dict)  # by element type
    bytes_by_key: dict[str, int] = field(default_factory=dict)  # by the element's key=
    errors: list[str] = field(default_factory=list)


@dataclass
class CacheEntry:
    """One cached ForwardMsg: the run count of its last use and its fragment."""

    run_count: int
    fragment_id: str


class MessageCache:
    """The frontend's ForwardMsg cache: hashes of cacheable messages and their age."""

    def __init__(self) -> None:
        self.entries: dict[str, CacheEntry] = {}
        self.run_count = 0
        self.max_age = 2  # replaced by the value in new_session.config

    def hashes(self) -> list[str]:
        return list(self.entries)

    def receive(self, msg: ForwardMsg) -> None:
        """Store a cacheable message, or refresh the entry a ref_hash points to."""
        if msg.WhichOneof("type") == "ref_hash":
            entry = self.entries.get(msg.ref_hash)
            if entry is None:
                raise ProtocolError(f"cache miss: ref_hash {msg.ref_hash} never stored")
            entry.run_count = self.run_count
        elif msg.metadata.cacheable and msg.hash in self.entries:
            self.entries[msg.hash].run_count = self.run_count
        elif msg.metadata.cacheable:
            fragment_id = msg.delta.fragment_id if msg.HasField("delta") else ""
            self.entries[msg.hash] = CacheEntry(self.run_count, fragment_id)

    def finish_run(self, fragment_ids: list[str]) -> None:
        """Age the entries after a finished run; a fragment run ages only its own."""
        self.run_count += 1
        for key, entry in list(self.entries.items()):
            if fragment_ids and entry.fragment_id not in fragment_ids:
                continue
            if self.run_count - entry.run_count > self.max_age:
                del self.entries[key]


def user_key(widget_id: str) -> str | None:
    """Return the `key=` a widget was created with, from an id like `$$ID-<hash>-<key>`."""
    parts = widget_id.split("-", 2)
    if len(parts) == 3 and parts[0] == "$$ID" and parts[2] != "None":
        return parts[2]
    return None


def element_label(msg: ForwardMsg) -> str:
    """Return the element type of a delta message, for the per-element byte count."""
    if msg.WhichOneof("type") != "delta":
        return msg.WhichOneof("type") or "unknown"
    delta = msg.delta
    if delta.WhichOneof("type") == "new_element":
        return delta.new_element.WhichOneof("type") or "unknown"
    return delta.WhichOneof("type") or "unknown"


class Session:
    """One browser tab: a websocket, the widgets it has seen and its message cache."""

    def __init__(
        self, port: int, timeout_s: float = 60.0, prompt_ack: bool = True
    ) -> None:
        self.url = f"ws://127.0.0.1:{port}{STREAM_PATH}"
        self.timeout_s = timeout_s
        self.prompt_ack = prompt_ack
        self.cache = MessageCache()
        self.widgets: dict[str, tuple[str, str]] = {}  # key -> (widget id, type)
        self.page_script_hash = ""
        self.texts: list[str] = []  # markdown bodies of the last full run
        self._ws: websockets.ClientConnection | None = None

    async def connect(self) -> None:
        # The first subprotocol entry selects "streamlit"; the XSRF token that a
        # browser puts second only matters for login cookies, which the app has none of.
        self._ws = await websockets.connect(
            self.url,
            subprotocols=[websockets.Subprotocol("streamlit")],
            max_size=None,
            compression=None,  # the server default, server.enableWebsocketCompression=false
            open_timeout=self.timeout_s,
            ping_interval=None,  # a browser sends no websocket pings either
            proxy=None,  # loopback only: never route through a proxy from the environment
        )
        self._ack_promptly()

    def _ack_promptly(self) -> None:
        """Re-arm TCP_QUICKACK, which Linux clears again after a while."""
        if not self.prompt_ack or self._ws is None:
            return
        sock = self._ws.transport.get_extra_info("socket")
        if sock is not None and hasattr(socket, "TCP_QUICKACK"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    def widget_state(self, key: str, value: object) -> WidgetState:
        """Build the WidgetState that sets the widget created with `key=key` to `value`."""
        if key not in self.widgets:
            raise KeyError(
                f"widget key {key!r} not found on the page; keys found: {sorted(self.widgets)}"
            )
        widget_id, element_type = self.widgets[key]
        state = WidgetState(id=widget_id)
        value_field = VALUE_FIELDS[element_type]
        if value_field == "double_array_value":
            state.double_array_value.data.append(float(value))
        else:
            setattr(state, value_field, value)
        return state

    async def rerun(self, changes: dict[str, object] | None = None) -> RunResult:
        """Send a rerun request with `changes` (widget key -> value) and read the run."""
        if self._ws is None:
            raise ProtocolError("rerun() needs an open websocket: call connect() first")
        request = BackMsg()
        client_state = request.rerun_script
        client_state.page_script_hash = self.page_script_hash
        client_state.cached_message_hashes.extend(self.cache.hashes())
        for key, value in (changes or {}).items():
            client_state.widget_states.widgets.append(self.widget_state(key, value))
        self._ack_promptly()
        started = time.perf_counter()
        await self._ws.send(request.SerializeToString())
        return await asyncio.wait_for(self._read_run(started), self.timeout_s)

    async def _read_run(self, started: float) -> RunResult:
        result = RunResult(0.0, 0, 0, 0)
        texts: list[str] = []
        while True:
            payload = await self._ws.recv()
            self._ack_promptly()
            msg = ForwardMsg()
            msg.ParseFromString(payload)
            result.num_bytes += len(payload)
            result.num_messages += 1
            label = element_label(msg)
            result.bytes_by_element[label] = result.bytes_by_element.get(
                label, 0
            ) + len(payload)
            self._receive(msg, result, texts)
            if msg.WhichOneof("type") == "script_finished":
                result.latency_s = time.perf_counter() - started
                self._finish(msg, result)
                self.texts = texts
                return result

    def _receive(self, msg: ForwardMsg, result: RunResult, texts: list[str]) -> None:
        """Update the cache and the widget table from one message; record errors."""
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            result.num_ref_messages += 1
        try:
            self.cache.receive(msg)
        except ProtocolError as err:
            result.errors.append(str(err))
        if kind == "new_session":
            config = msg.new_session.config
            self.cache.max_age = config.max_cached_message_age or self.cache.max_age
            self.page_script_hash = msg.new_session.main_script_hash
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._record_element(msg, result, texts)

    def _record_element(
        self, msg: ForwardMsg, result: RunResult, texts: list[str]
    ) -> None:
        element = msg.delta.new_element
        element_type = element.WhichOneof("type")
        if element_type is None:
            return
        if element_type == "exception":
            result.errors.append(
                f"exception: {element.exception.type}: {element.exception.message}"
            )
        elif element_type == "alert" and element.alert.format == Alert.Format.ERROR:
            # No benchmark scenario should make the page show st.error.
            result.errors.append(f"st.error on the page: {element.alert.body[:200]}")
        elif element_type == "markdown":
            texts.append(element.markdown.body)
            return
        widget_id = getattr(getattr(element, element_type), "id", "")
        key = user_key(widget_id) if isinstance(widget_id, str) else None
        if key is None:
            return
        result.bytes_by_key[key] = result.bytes_by_key.get(key, 0) + msg.ByteSize()
        if element_type in VALUE_FIELDS:
            self.widgets[key] = (widget_id, element_type)

    def _finish(self, msg: ForwardMsg, result: RunResult) -> None:
        status = msg.script_finished
        if status not in FINISHED_OK:
            name = ForwardMsg.ScriptFinishedStatus.Name(status)
            result.errors.append(f"script finished with {name}")
            return
        self.cache.finish_run(list(msg.metadata.run.fragment_ids))
