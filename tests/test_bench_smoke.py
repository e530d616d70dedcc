"""The benchmark's protocol client against a real server, and its message cache.

The server test starts `streamlit run bench/minimal_app.py` on a free loopback port
and takes about 5 s, so a change to Streamlit's protocol breaks a test rather than
only the next `make bench`.
"""

from __future__ import annotations

import asyncio

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.client import MessageCache, ProtocolError, Session, user_key
from bench.server import MINIMAL_APP, ROOT, start_server


def cacheable(msg_hash: str) -> ForwardMsg:
    msg = ForwardMsg(hash=msg_hash)
    msg.metadata.cacheable = True
    msg.delta.new_element.markdown.body = "x" * 10
    return msg


def reference(msg_hash: str) -> ForwardMsg:
    return ForwardMsg(ref_hash=msg_hash)


def test_cache_stores_cacheable_messages():
    cache = MessageCache()
    cache.receive(cacheable("a"))
    cache.receive(ForwardMsg(hash="b"))  # not cacheable
    assert cache.hashes() == ["a"]


def test_cache_reference_to_unknown_hash_raises():
    with pytest.raises(ProtocolError, match="never stored"):
        MessageCache().receive(reference("missing"))


def test_cache_expires_unused_entries():
    cache = MessageCache()
    cache.max_age = 2
    cache.receive(cacheable("old"))
    cache.receive(cacheable("used"))
    for _ in range(3):
        cache.receive(reference("used"))
        cache.finish_run([])
    # "old" was last used 3 runs ago, more than max_age; "used" was used in each run.
    assert cache.hashes() == ["used"]


def test_user_key_from_widget_id():
    assert user_key("$$ID-2be94cebb53fe88112a02694f84e5094-width_0") == "width_0"
    assert user_key("$$ID-2be94cebb53fe88112a02694f84e5094-None") is None
    assert user_key("") is None


async def drive_minimal_page(port: int) -> tuple[list[str], list[str], int]:
    session = Session(port, timeout_s=30.0)
    await session.connect()
    try:
        first = await session.rerun()
        changed = await session.rerun({"value": 7})
    finally:
        await session.close()
    return first.errors + changed.errors, session.texts, changed.num_bytes


@pytest.mark.timeout(60)
def test_client_drives_minimal_page():
    server = start_server(MINIMAL_APP, ROOT / "test-artifacts" / "bench-smoke")
    try:
        errors, texts, num_bytes = asyncio.run(drive_minimal_page(server.port))
    finally:
        server.stop()
    assert errors == []
    assert texts == ["The slider is at 7."]
    assert num_bytes > 0
