"""A cap on the bytes one session keeps in Streamlit's store of uploaded files.

Streamlit 1.67 checks each upload against `server.maxUploadSize`, but a client may
upload any number of files under new file ids, and the store keeps them all until the
session ends. One client could so fill the server's memory and stop every other
session. With this cap a session keeps at most MAX_FILES_PER_SESSION files and
MAX_SESSION_UPLOAD_MB; a new upload evicts that session's oldest files first, so the
file a user just chose is always kept.

NOTE: this wraps `MemoryUploadedFileManager.add_file`, an internal of Streamlit 1.67.0
(pinned in requirements.txt); tests/test_hardening_server.py fails if it changes.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from streamlit import config
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

logger = logging.getLogger(__name__)

# The uploader takes one file, but the previous one may still be stored while the new
# one arrives. So two files of the largest allowed size fit.
MAX_FILES_PER_SESSION = 2
# Evictions logged one by one per session, so a flood of uploads cannot flood the log.
LOGGED_PER_SESSION = 20
MAX_TRACKED_SESSIONS = 1000

_evictions: OrderedDict[str, int] = OrderedDict()
_evictions_lock = threading.Lock()


def max_session_bytes() -> int:
    """Bytes one session may keep: two files of `server.maxUploadSize` megabytes."""
    return MAX_FILES_PER_SESSION * config.get_option("server.maxUploadSize") * 2**20


def _evict_oldest(
    manager: MemoryUploadedFileManager, session_id: str, keep_id: str
) -> None:
    """Remove the session's oldest files until it is within both caps."""
    limit = max_session_bytes()
    while True:
        with manager._lock:
            storage = dict(manager.file_storage.get(session_id, {}))
        total = sum(len(rec.data) for rec in storage.values())
        if len(storage) <= MAX_FILES_PER_SESSION and total <= limit:
            return
        oldest = next((fid for fid in storage if fid != keep_id), None)
        if oldest is None:
            return
        _log_eviction(session_id, len(storage), total, oldest)
        manager.remove_file(session_id, oldest)


def _log_eviction(session_id: str, files: int, total: int, file_id: str) -> None:
    """Log an eviction; past LOGGED_PER_SESSION per session, only every 100th."""
    with _evictions_lock:
        count = _evictions.get(session_id, 0) + 1
        _evictions[session_id] = count
        _evictions.move_to_end(session_id)
        while len(_evictions) > MAX_TRACKED_SESSIONS:
            _evictions.popitem(last=False)
    if count <= LOGGED_PER_SESSION or count % 100 == 0:
        logger.warning(
            "upload store over its cap: session_id=%s files=%d bytes=%d; "
            "removing file_id=%s (eviction %d of this session)",
            session_id,
            files,
            total,
            file_id,
            count,
        )


_original_add_file = MemoryUploadedFileManager.add_file


def _capped_add_file(
    self: MemoryUploadedFileManager, session_id: str, file: UploadedFileRec
) -> None:
    _original_add_file(self, session_id, file)
    _evict_oldest(self, session_id, keep_id=file.file_id)


def install_upload_limits() -> None:
    """Cap every session's stored uploads; safe to call on each run."""
    if MemoryUploadedFileManager.add_file is not _capped_add_file:
        MemoryUploadedFileManager.add_file = _capped_add_file  # type: ignore[method-assign]
