"""A persistent completion cache in sqlite (stdlib).

Keys are a hash of the model, the full request (messages and sampling
parameters, never credentials) and the sample index, so ``n`` samples at
temperature > 0 are stored and replayed one by one, exactly. A corrupted,
unreadable or locked cache file never crashes a run: the cache turns itself off
with one warning and the run goes on uncached. A file replaced under a running
process (``git checkout`` or ``git stash`` of a results folder) is reopened at
its path, so the entries written after it are not lost. An entry of the wrong
shape, or with usage that is negative or cannot match its text, is a miss (one
warning per cache), so a tampered entry can neither crash a run nor bypass its
budget.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import os
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

from .types import Completion, Score

__all__ = ["Cache", "InFlight", "cache_key", "default_cache_path", "cached_completion", "cached_score", "lookup"]

log = logging.getLogger(__name__)


def default_cache_path() -> Path:
    """``$REASONERS_CACHE_DIR/cache.sqlite``, else ``~/.cache/reasoners/cache.sqlite``."""
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
        self._opened: tuple[int, int] | None = None  # (device, inode) of the file the connection has open
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
                self._conn, self._opened = conn, self._identity()
            except (sqlite3.Error, OSError) as e:
                self._disable(e)
        return self._conn

    def _identity(self) -> tuple[int, int] | None:
        if self.path == ":memory:":
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _replaced(self) -> bool:
        """The file at the path is no longer the one the connection has open (sqlite then refuses
        writes: "attempt to write a readonly database")."""
        return self._opened is not None and self._identity() != self._opened

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
            except sqlite3.Error as e:
                self._disable(e)
                return None
            try:
                value = json.loads(row[0]) if row else None
            except (TypeError, ValueError, RecursionError):  # a row that is not JSON text: a miss, not a crash
                value = _UNREADABLE
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: str, value: Any) -> None:
        row = (key, json.dumps(value))
        with self._lock:
            for attempt in range(2):
                conn = self._connect()
                if conn is None:
                    return
                try:
                    conn.execute("INSERT OR REPLACE INTO entries (key, value) VALUES (?, ?)", row)
                    conn.commit()
                    return
                except sqlite3.Error as e:
                    if attempt == 0 and self._replaced():
                        log.warning("reasoners cache %s was replaced while open; reopening it", self.path)
                        conn.close()
                        self._conn = None
                        continue
                    self._disable(e)
                    return

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

    def merge(self, *paths: str | Path) -> int:
        """Copy into this cache the entries of the cache files ``paths`` that it lacks (entries are
        keyed by request, so the same key holds the same sample); returns how many were added. Used to
        gather the per-worker caches of a distributed run (sqlite must not be shared over NFS)."""
        added = 0
        with self._lock:
            conn = self._connect()
            if conn is None:
                raise OSError(f"cannot open the cache {self.path}")
            for path in paths:
                before = conn.total_changes
                conn.execute("ATTACH DATABASE ? AS other", (str(path),))
                try:
                    conn.execute("INSERT OR IGNORE INTO entries (key, value) SELECT key, value FROM other.entries")
                    conn.commit()
                finally:
                    conn.execute("DETACH DATABASE other")
                added += conn.total_changes - before
        return added

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


# A token is rarely longer than this many characters; a cached text far longer than its
# token count allows was not produced by that many tokens.
_MAX_CHARS_PER_TOKEN = 64


# More tokens than any one request spends: a count this large was written by hand.
_MAX_TOKENS = 10_000_000

_UNREADABLE = object()  # a stored value that is not JSON text


def _usage_problem(usage: Any) -> str | None:
    """Why ``usage`` cannot be what a request cost: missing, not whole non-negative counts, a cost
    that is not a finite non-negative number, or nothing at all (a replay would then be free)."""
    if not isinstance(usage, dict) or not usage:
        return "usage is missing"
    for name in ("prompt_tokens", "completion_tokens", "calls", "cache_hits", "reasoning_tokens"):
        value = usage.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_TOKENS:
            return f"usage {name} is {value!r}"
    cost = usage.get("cost", 0.0)
    if not isinstance(cost, (int, float)) or isinstance(cost, bool) or not math.isfinite(cost) or cost < 0:
        return f"usage cost is {cost!r}"
    if not (usage.get("prompt_tokens", 0) or usage.get("completion_tokens", 0) or usage.get("calls", 0)):
        return "usage is zero"
    return None


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _logprobs_problem(logprobs: Any) -> bool:
    return logprobs is not None and not (
        isinstance(logprobs, list)
        and all(isinstance(t, dict) and set(t) in ({"token", "logprob"}, {"token", "logprob", "top"})
                and isinstance(t["token"], str) and _finite(t["logprob"])
                and (t.get("top") is None or (isinstance(t["top"], list) and all(_finite(x) for x in t["top"])))
                for t in logprobs)
    )


def _completion_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"a {type(value).__name__}, not a completion"
    text = value.get("text")
    if not isinstance(text, str):
        return "text is not a string"
    if value.get("finish_reason") is not None and not isinstance(value.get("finish_reason"), str):
        return "finish_reason is not a string"
    if (problem := _usage_problem(value.get("usage"))) is not None:
        return problem
    if _logprobs_problem(value.get("logprobs")) or _logprobs_problem(value.get("reasoning_logprobs")):
        return "logprobs are not a list of {token, logprob}"
    reasoning = value.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, str):
        return "reasoning is not a string"
    written = len(text) + len(reasoning or "")
    tokens = value["usage"].get("completion_tokens", 0)
    if written > _MAX_CHARS_PER_TOKEN * tokens:
        return f"{written} characters cannot come from {tokens} completion tokens"
    if not isinstance(value.get("index", 0), int):
        return "index is not a whole number"
    return None


def _score_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"a {type(value).__name__}, not a score"
    tokens, logprobs = value.get("tokens"), value.get("logprobs")
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        return "tokens are not a list of strings"
    if not isinstance(logprobs, list) or len(logprobs) != len(tokens) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in logprobs
    ):
        return "logprobs do not match the tokens"
    usage = value.get("usage")
    if (problem := _usage_problem(usage)) is not None:
        return problem
    assert isinstance(usage, dict)
    if usage.get("prompt_tokens", 0) < len(tokens) or usage.get("calls", 0) != 1:
        return "usage is less than scoring those tokens costs"
    return None


def _checked(cache: Cache, key: str, problem_of: Any) -> Any | None:
    """The entry under ``key`` when it is well formed and its usage plausible; else a miss (warned
    once per cache), never a crash and never a replay cheaper than the call it stands for."""
    value = cache.get(key)
    if value is None:
        return None
    problem = "the stored value is not JSON text" if value is _UNREADABLE else problem_of(value)
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
    try:
        return Completion.from_dict(value) if value is not None else None
    except (TypeError, ValueError):  # a shape the checks above did not foresee: still a miss
        cache.invalid += 1
        return None


def cached_score(cache: Cache, key: str) -> Score | None:
    """The prompt score cached under ``key``, or None when absent or invalid (a miss)."""
    value = _checked(cache, key, _score_problem)
    try:
        return Score.from_dict(value) if value is not None else None
    except (TypeError, ValueError):
        cache.invalid += 1
        return None


# -- the cache as the client uses it: lookup with clamped reuse, and in-flight sharing ------------


def _fits(cache: Cache, key: str, limit: int) -> Completion | None:
    """The sample cached for the full ``max_tokens`` when the budget granted only ``limit``:
    usable if it stopped by itself within ``limit`` tokens, since a lower cap changes
    nothing before the cap. So a budgeted run replays an unbudgeted run's samples."""
    hit = cached_completion(cache, key)
    if hit is None or hit.finish_reason == "length":
        return None
    if not hit.logprobs and not hit.usage.completion_tokens and hit.text:
        return None  # its length is unknown
    length = len(hit.logprobs) + len(hit.reasoning_logprobs or []) if hit.logprobs else hit.usage.completion_tokens
    return hit if length <= limit else None


def lookup(
    cache: Cache | None, model: str, request: dict[str, Any], indices: list[int], asked: int
) -> tuple[dict[int, str], dict[int, Completion]]:
    """The cache keys of samples ``indices`` of ``request`` (whose ``max_tokens`` is what the budget
    granted), and the samples already cached: under those keys, or, when the budget granted less
    than the ``asked`` tokens, under the full request if they stopped within the grant. A request
    without logprobs is also answered by the same request stored with them (its logprobs dropped):
    the sample is the same, only what came with it differs. Without a cache, no keys (nothing is
    stored or shared, so hashing the request would be wasted)."""
    got: dict[int, Completion] = {}
    if cache is None:
        return {}, got
    keys = {i: cache_key("chat", model, request, i) for i in indices}
    granted = int(request["max_tokens"])
    richer = None if request.get("logprobs") else {**request, "logprobs": True}
    for i, key in keys.items():
        c = cached_completion(cache, key)
        if c is None and granted < asked:
            c = _fits(cache, cache_key("chat", model, {**request, "max_tokens": asked}, i), granted)
        if c is None and richer is not None:
            c = cached_completion(cache, cache_key("chat", model, richer, i))
            if c is None and granted < asked:
                c = _fits(cache, cache_key("chat", model, {**richer, "max_tokens": asked}, i), granted)
            if c is not None:
                c.logprobs = c.reasoning_logprobs = None
        if c is not None:
            c.cached, c.usage.cache_hits = True, 1
            got[i] = c
    return keys, got


class InFlight:
    """Samples being fetched right now, per event loop, so that an identical call waits for them
    instead of sending the same request again (strategies run side by side share samples)."""

    def __init__(self) -> None:
        self._pending: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Future[Completion]]] = (
            weakref.WeakKeyDictionary()
        )

    def claim(
        self, keys: dict[int, str], missing: list[int], *, share: bool
    ) -> tuple[dict[int, asyncio.Future[Completion]], dict[int, asyncio.Future[Completion]]]:
        """Split ``missing`` into samples an identical call is fetching (their futures) and samples
        this call fetches (new futures, announced before any await so that a call arriving meanwhile
        waits for them). With ``share=False`` (no cache to replay from) calls never share."""
        loop = asyncio.get_running_loop()
        if not share:
            return {}, {i: loop.create_future() for i in missing}
        pending = self._pending.setdefault(loop, {})
        shared = {i: pending[keys[i]] for i in missing if keys[i] in pending}
        own = {i: pending.setdefault(keys[i], loop.create_future()) for i in missing if i not in shared}
        return shared, own

    @staticmethod
    async def wait(shared: dict[int, asyncio.Future[Completion]]) -> dict[int, Completion]:
        """The shared samples, as cache hits; those whose call failed are left out."""
        if shared:
            await asyncio.wait(shared.values())
        out = {}
        for i, future in shared.items():
            if not future.cancelled() and future.exception() is None:
                c = Completion.from_dict(future.result().to_dict())
                c.cached, c.usage.cache_hits = True, 1
                out[i] = c
        return out

    def release(self, futures: dict[int, asyncio.Future[Completion]], keys: dict[int, str]) -> None:
        """Forget the fetch of ``futures``; those not resolved are cancelled (their waiters fetch them)."""
        pending = self._pending.get(asyncio.get_running_loop(), {})
        for i, future in futures.items():
            if not future.done():
                future.cancel()
            key = keys.get(i)
            if key is not None and pending.get(key) is future:
                del pending[key]
