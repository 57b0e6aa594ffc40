"""A persistent completion cache in sqlite (stdlib).

Keys are a hash of the model, the full request (messages and sampling
parameters, never credentials) and the sample index, so ``n`` samples at
temperature > 0 are stored and replayed one by one, exactly. A corrupted,
unreadable or locked cache file never crashes a run: the cache turns itself
off with one warning and the run goes on uncached.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

__all__ = ["Cache", "cache_key", "default_cache_path"]

log = logging.getLogger(__name__)


def default_cache_path() -> Path:
    """``$REASONERS_CACHE_DIR/cache.sqlite``, else ``~/.cache/reasoners/cache.sqlite``."""
    import os

    base = os.environ.get("REASONERS_CACHE_DIR") or Path.home() / ".cache" / "reasoners"
    return Path(base) / "cache.sqlite"


def cache_key(kind: str, model: str, request: dict[str, Any], index: int = 0) -> str:
    """Stable hash of a request. ``request`` must hold no secrets (it is hashed, not stored)."""
    blob = json.dumps({"kind": kind, "model": model, "request": request, "index": index}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Cache:
    """Sqlite-backed key/value store of JSON values, safe to share between threads.

    >>> cache = Cache("/tmp/reasoners-doc.sqlite")   # or Cache(":memory:")
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else str(default_cache_path())
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self.enabled = True
        self.hits = 0
        self.misses = 0

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is None and self.enabled:
            try:
                if self.path != ":memory:":
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=2.0, check_same_thread=False)
                conn.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                conn.commit()
                self._conn = conn
            except (sqlite3.Error, OSError) as e:
                self._disable(e)
        return self._conn

    def _disable(self, error: BaseException) -> None:
        if self.enabled:
            log.warning("reasoners cache %s disabled, continuing without cache: %s", self.path, error)
        self.enabled = False
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
        self._conn = None

    def get(self, key: str) -> Any | None:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return None
            try:
                row = conn.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
                value = json.loads(row[0]) if row else None
            except (sqlite3.Error, ValueError) as e:
                self._disable(e)
                return None
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return
            try:
                conn.execute("INSERT OR REPLACE INTO entries (key, value) VALUES (?, ?)", (key, json.dumps(value)))
                conn.commit()
            except sqlite3.Error as e:
                self._disable(e)

    def __len__(self) -> int:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return 0
            try:
                return int(conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
            except sqlite3.Error as e:
                self._disable(e)
                return 0

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
