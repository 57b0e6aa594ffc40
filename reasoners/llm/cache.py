"""A persistent completion cache in sqlite (stdlib).

Keys are a hash of the model, the full request (messages and sampling
parameters, never credentials) and the sample index, so ``n`` samples at
temperature > 0 are stored and replayed one by one, exactly. A corrupted,
unreadable or locked cache file never crashes a run: the cache turns itself
off with one warning and the run goes on uncached. An entry of the wrong shape,
or with usage that is negative or cannot match its text, is a miss (one warning
per cache), so a tampered entry can neither crash a run nor bypass its budget.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from .types import Completion, Score

__all__ = ["Cache", "cache_key", "default_cache_path", "cached_completion", "cached_score"]

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
        self.invalid = 0  # entries read but ignored as invalid
        self.warned = False

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


# A token is rarely longer than this many characters; a cached text far longer than its
# token count allows was not produced by that many tokens.
_MAX_CHARS_PER_TOKEN = 64


def _usage_problem(usage: Any) -> str | None:
    if not isinstance(usage, dict):
        return "usage is not an object"
    for name in ("prompt_tokens", "completion_tokens", "calls", "cache_hits"):
        value = usage.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"usage {name} is {value!r}"
    cost = usage.get("cost", 0.0)
    if not isinstance(cost, (int, float)) or isinstance(cost, bool) or cost < 0:
        return f"usage cost is {cost!r}"
    return None


def _completion_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"a {type(value).__name__}, not a completion"
    text = value.get("text")
    if not isinstance(text, str):
        return "text is not a string"
    if value.get("finish_reason") is not None and not isinstance(value.get("finish_reason"), str):
        return "finish_reason is not a string"
    if (problem := _usage_problem(value.get("usage") or {})) is not None:
        return problem
    logprobs = value.get("logprobs")
    if logprobs is not None and not (
        isinstance(logprobs, list)
        and all(isinstance(t, dict) and isinstance(t.get("token"), str)
                and isinstance(t.get("logprob"), (int, float)) for t in logprobs)
    ):
        return "logprobs are not a list of {token, logprob}"
    tokens = (value.get("usage") or {}).get("completion_tokens", 0)
    if tokens and len(text) > _MAX_CHARS_PER_TOKEN * tokens:
        return f"{len(text)} characters cannot come from {tokens} completion tokens"
    return None


def _score_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"a {type(value).__name__}, not a score"
    tokens, logprobs = value.get("tokens"), value.get("logprobs")
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        return "tokens are not a list of strings"
    if not isinstance(logprobs, list) or len(logprobs) != len(tokens) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in logprobs
    ):
        return "logprobs do not match the tokens"
    return _usage_problem(value.get("usage") or {})


def _checked(cache: Cache, key: str, problem_of: Any) -> Any | None:
    value = cache.get(key)
    if value is None:
        return None
    problem = problem_of(value)
    if problem is None:
        return value
    if not cache.warned:
        cache.warned = True
        log.warning("reasoners cache %s: ignoring an invalid entry (%s); it is treated as a miss", cache.path, problem)
    cache.invalid += 1
    return None


def cached_completion(cache: Cache, key: str) -> Completion | None:
    """The completion cached under ``key``, or None when absent or invalid (a miss)."""
    value = _checked(cache, key, _completion_problem)
    return Completion.from_dict(value) if value is not None else None


def cached_score(cache: Cache, key: str) -> Score | None:
    """The prompt score cached under ``key``, or None when absent or invalid (a miss)."""
    value = _checked(cache, key, _score_problem)
    return Score.from_dict(value) if value is not None else None
