"""Compute budgets with reserve-then-settle accounting.

Every model request reserves ``prompt_tokens + n * max_tokens`` (and one call,
and its worst-case cost) before it is sent, and settles to the actual usage
afterwards. A request that does not fit is clamped to a smaller ``max_tokens``
or, when nothing in flight could free room, refused with :class:`BudgetExhausted`.

A :class:`Budget` is only limits: a frozen value, safe to share and to pass to many runs.
Each run counts against its limits on a :class:`Meter` of its own, made when the run starts
(so a time limit starts then too). Child meters draw from their parent: a reservation must
fit every ancestor, and usage settles into all of them.

Invariant (tested): settled usage never exceeds a limit, except that the prompt
token count used for the reservation may differ from the provider's count by
the tokenizer error of one request (0 for the embedded model, which counts with
its own tokenizer).

One lock per budget tree keeps this exact under threads and asyncio tasks.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass, field

from .errors import BudgetExhausted, ConfigError
from .usage import Usage

__all__ = ["Budget", "Meter", "Reservation", "meter_for"]


@dataclass
class Reservation:
    """What one request holds until it settles. ``max_tokens`` is the granted (maybe clamped) value."""

    prompt_tokens: int
    max_tokens: int
    n: int
    cost: float
    budget: Meter
    deadline: float | None = None  # monotonic time after which the request may not run on (the time limit)
    settled: bool = field(default=False, repr=False)
    extra_tokens: int = 0  # held on top for retries (see Meter.extend)
    extra_calls: int = 0
    extra_cost: float = 0.0
    charged: Usage = field(default_factory=Usage)  # attempts abandoned, charged at what they may have cost

    def attempt_usage(self, n: int | None = None) -> Usage:
        """What one attempt of ``n`` samples (default: the request's) may have cost: its whole hold.
        An attempt the client gave up on (a timeout, a cancel) is charged this, since the provider
        may have billed it in full, unless the provider said what it used."""
        n = self.n if n is None else n
        return Usage(prompt_tokens=self.prompt_tokens, completion_tokens=n * self.max_tokens, calls=1, cost=self.cost)

    def charge(self, n: int | None = None) -> None:
        """Record an abandoned attempt of ``n`` samples; it is added to usage when the request settles."""
        self.charged = self.charged + self.attempt_usage(n)

    def timeout(self, cap: float) -> float:
        """Seconds the request may take: ``cap``, or less when the time limit is nearer. Raises
        :class:`BudgetExhausted` once the limit has passed. This is all a transport needs to know."""
        if self.deadline is None:
            return cap
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise BudgetExhausted("budget time limit reached", limit="seconds")
        return min(cap, left)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.n * self.max_tokens + self.extra_tokens


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _check_limit(name: str, value: float | None) -> None:
    if value is not None and (not isinstance(value, (int, float)) or value < 0 or math.isnan(value)):
        raise ConfigError(f"Budget {name} must be a non-negative number or None; got {value!r}")


@dataclass(frozen=True)
class Budget:
    """Limits on tokens, calls, cost (USD) and wall seconds; any subset, None means unlimited.
    A value: each run counts against it on its own :class:`Meter` (so a ``Budget`` given to
    two runs limits each, and ``seconds`` starts when a run does).

    >>> limits = Budget(tokens=1000, calls=10)
    >>> meter = limits.meter()           # a running count against them (a run makes its own)
    >>> sub = meter.child(tokens=300)    # draws from meter, at most 300 tokens
    """

    tokens: int | None = None
    calls: int | None = None
    cost: float | None = None
    seconds: float | None = None
    min_completion_tokens: int = 1

    def __post_init__(self) -> None:
        for name in ("tokens", "calls", "cost", "seconds"):
            _check_limit(name, getattr(self, name))
        if isinstance(self.min_completion_tokens, bool) or not isinstance(self.min_completion_tokens, int) \
                or self.min_completion_tokens < 1:
            raise ConfigError("Budget min_completion_tokens must be >= 1")

    def meter(self) -> Meter:
        """A new running count against these limits; its clock starts now."""
        return Meter(self)


def meter_for(budget: Budget | Meter | None, *, own: bool = False) -> Meter:
    """The meter a call or run counts on: a new one for limits (or none); for a meter, that
    meter, or with ``own=True`` a child of it (so a run's usage is its own and also its parent's)."""
    if isinstance(budget, Meter):
        return budget.child() if own else budget
    if budget is None or isinstance(budget, Budget):
        return Meter(budget)
    raise ConfigError(f"budget must be a reasoners.Budget (or a Meter); got {type(budget).__name__}")


class Meter:
    """What one run (or a share of it) has used and holds against a :class:`Budget`'s limits:
    reservations, settled usage and the clock, under one lock per meter tree.

    >>> meter = Budget(tokens=1000).meter()
    >>> halves = meter.split(2)        # two children with half of what is left each
    """

    def __init__(self, limits: Budget | None = None, *, parent: Meter | None = None) -> None:
        limits = limits if limits is not None else Budget()
        if not isinstance(limits, Budget):
            raise ConfigError(f"a Meter counts against a Budget; got {type(limits).__name__}")
        self.limits = limits
        self.parent = parent
        self._lock: threading.Lock = parent._lock if parent else threading.Lock()
        self._root: Meter = parent._root if parent else self
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._started = time.monotonic()
        self.used = Usage()
        self._reserved_tokens = 0
        self._reserved_calls = 0
        self._reserved_cost = 0.0

    @property
    def tokens(self) -> int | None:
        return self.limits.tokens

    @property
    def calls(self) -> int | None:
        return self.limits.calls

    @property
    def cost(self) -> float | None:
        return self.limits.cost

    @property
    def seconds(self) -> float | None:
        return self.limits.seconds

    @property
    def min_completion_tokens(self) -> int:
        return self.limits.min_completion_tokens

    # -- inspection -----------------------------------------------------------------

    def _chain(self) -> list[Meter]:
        chain: list[Meter] = []
        b: Meter | None = self
        while b is not None:
            chain.append(b)
            b = b.parent
        return chain

    @property
    def deadline(self) -> float | None:
        """Monotonic time after which no request may start (the earliest in the chain)."""
        ends = [b._started + b.seconds for b in self._chain() if b.seconds is not None]
        return min(ends) if ends else None

    def seconds_left(self) -> float | None:
        d = self.deadline
        return None if d is None else max(0.0, d - time.monotonic())

    def tokens_left(self) -> int | None:
        """Tokens that could still be reserved here, across the chain; None if unlimited."""
        with self._lock:
            return self._tokens_left()

    def _tokens_left(self) -> int | None:
        lefts = [b.tokens - b.used.total_tokens - b._reserved_tokens for b in self._chain() if b.tokens is not None]
        return max(0, min(lefts)) if lefts else None

    def _calls_left(self) -> int | None:
        lefts = [b.calls - b.used.calls - b._reserved_calls for b in self._chain() if b.calls is not None]
        return max(0, min(lefts)) if lefts else None

    def _cost_left(self) -> float | None:
        lefts = [b.cost - b.used.cost - b._reserved_cost for b in self._chain() if b.cost is not None]
        return max(0.0, min(lefts)) if lefts else None

    def calls_left(self) -> int | None:
        with self._lock:
            return self._calls_left()

    def cost_left(self) -> float | None:
        """Dollars that could still be reserved here, across the chain; None if unlimited."""
        with self._lock:
            return self._cost_left()

    @property
    def over_limit(self) -> bool:
        """True when usage went past a limit: a server that ignored ``max_tokens`` can do that."""
        with self._lock:
            return any(
                (b.tokens is not None and b.used.total_tokens > b.tokens)
                or (b.calls is not None and b.used.calls > b.calls)
                or (b.cost is not None and b.used.cost > b.cost)
                for b in self._chain()
            )

    @property
    def exhausted(self) -> bool:
        """True when not even the smallest request would fit any more."""
        with self._lock:
            t, c, s = self._tokens_left(), self._calls_left(), self.seconds_left()
        return (t is not None and t <= self.min_completion_tokens) or c == 0 or s == 0.0

    # -- reserve / settle ---------------------------------------------------------------

    def reserve(
        self,
        *,
        prompt_tokens: int,
        max_tokens: int,
        n: int = 1,
        prompt_price: float = 0.0,
        completion_price: float = 0.0,
    ) -> Reservation:
        """Hold room for one request, clamping ``max_tokens`` to what fits.

        Prices are USD per token (0 when unknown). Raises :class:`BudgetExhausted`
        naming the limit when even ``min_completion_tokens`` per sample does not fit.
        """
        if prompt_tokens < 0 or max_tokens < 1 or n < 1:
            raise ConfigError(f"bad reservation: prompt_tokens={prompt_tokens}, max_tokens={max_tokens}, n={n}")
        low = min(self.min_completion_tokens, max_tokens)
        with self._lock:
            if self.seconds_left() == 0.0:
                raise BudgetExhausted("budget time limit reached", limit="seconds")
            if self._calls_left() == 0:
                raise BudgetExhausted("budget call limit reached", limit="calls")
            granted = max_tokens
            tokens_left = self._tokens_left()
            if tokens_left is not None:
                room = (tokens_left - prompt_tokens) // n
                if room < low:
                    raise BudgetExhausted(
                        f"budget token limit reached: {tokens_left} tokens left, request needs "
                        f"{prompt_tokens} prompt + {n}x{low} completion",
                        limit="tokens",
                    )
                granted = min(granted, room)
            cost_left = self._cost_left()
            if cost_left is not None:
                prompt_cost = prompt_tokens * prompt_price
                if prompt_cost + n * low * completion_price > cost_left:
                    raise BudgetExhausted(
                        f"budget cost limit reached: ${cost_left:.6f} left", limit="cost"
                    )
                if completion_price > 0:
                    granted = min(granted, int((cost_left - prompt_cost) / (n * completion_price)))
            est_cost = prompt_tokens * prompt_price + n * granted * completion_price
            r = Reservation(prompt_tokens=prompt_tokens, max_tokens=granted, n=n, cost=est_cost, budget=self,
                            deadline=self.deadline)
            for b in self._chain():
                b._reserved_tokens += r.tokens
                b._reserved_calls += 1
                b._reserved_cost += est_cost
            return r

    async def areserve(
        self,
        *,
        prompt_tokens: int,
        max_tokens: int,
        n: int = 1,
        prompt_price: float = 0.0,
        completion_price: float = 0.0,
    ) -> Reservation:
        """:meth:`reserve`, but a request that does not fit while others are in flight
        waits for them to settle (they usually return most of what they held) and
        tries again; it is refused only when nothing in flight could free room.
        Without this, the first of several parallel samples would take the whole
        remaining budget as its ``max_tokens`` and starve its siblings."""
        while True:
            try:
                return self.reserve(
                    prompt_tokens=prompt_tokens,
                    max_tokens=max_tokens,
                    n=n,
                    prompt_price=prompt_price,
                    completion_price=completion_price,
                )
            except BudgetExhausted as e:
                if e.limit == "seconds":
                    raise
                with self._lock:
                    if not any(b._reserved_calls for b in self._chain()):
                        raise
                    loop = asyncio.get_running_loop()
                    waiter: asyncio.Future[None] = loop.create_future()
                    self._root._waiters.append((loop, waiter))
                await waiter

    def extend(self, reservation: Reservation, n: int | None = None) -> None:
        """Hold room for one more attempt of ``n`` samples (default: the request's) of ``reservation``:
        every retry reserves, as the attempts before it may have been billed. Raises
        :class:`BudgetExhausted` when it does not fit (or the time limit has passed)."""
        more = reservation.attempt_usage(n)
        with self._lock:
            if self.seconds_left() == 0.0:
                raise BudgetExhausted("budget time limit reached", limit="seconds")
            tokens, calls, cost = self._tokens_left(), self._calls_left(), self._cost_left()
            for left, need, limit in ((tokens, more.total_tokens, "tokens"), (calls, 1, "calls"),
                                      (cost, more.cost, "cost")):
                if left is not None and need > left:
                    raise BudgetExhausted(f"budget {limit} limit reached: no room to retry a request "
                                          f"(the attempts before it are charged)", limit=limit)
            reservation.extra_tokens += more.total_tokens
            reservation.extra_calls += 1
            reservation.extra_cost += more.cost
            for b in reservation.budget._chain():
                b._reserved_tokens += more.total_tokens
                b._reserved_calls += 1
                b._reserved_cost += more.cost

    def settle(self, reservation: Reservation, usage: Usage | None) -> None:
        """Release ``reservation`` and record ``usage`` (None: the request failed and used nothing)
        plus every attempt it abandoned (:meth:`Reservation.charge`)."""
        with self._lock:
            if reservation.settled:
                return
            reservation.settled = True
            spent = reservation.charged if usage is None else usage + reservation.charged
            for b in reservation.budget._chain():
                b._reserved_tokens -= reservation.tokens
                b._reserved_calls -= 1 + reservation.extra_calls
                b._reserved_cost -= reservation.cost + reservation.extra_cost
                if spent.calls or spent.total_tokens or spent.cost:
                    b.used = b.used + spent
            waiters, self._root._waiters = self._root._waiters, []
        for loop, waiter in waiters:
            loop.call_soon_threadsafe(_wake, waiter)

    # -- sub-budgets -----------------------------------------------------------------

    def child(
        self,
        *,
        tokens: int | None = None,
        calls: int | None = None,
        cost: float | None = None,
        seconds: float | None = None,
    ) -> Meter:
        """A sub-meter that draws from this one; its own limits (if any) apply on top."""
        limits = Budget(tokens=tokens, calls=calls, cost=cost, seconds=seconds,
                        min_completion_tokens=self.min_completion_tokens)
        return Meter(limits, parent=self)

    def split(self, parts: int | list[float]) -> list[Meter]:
        """Children that share what is left now: ``parts`` equal shares, or shares by weight."""
        weights = [1.0] * parts if isinstance(parts, int) else [float(w) for w in parts]
        if not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ConfigError(f"Meter.split needs a positive count or non-negative weights; got {parts!r}")
        total = sum(weights)
        with self._lock:
            t, c, k = self._tokens_left(), self._calls_left(), self._cost_left()
        s = self.seconds_left()
        return [
            self.child(
                tokens=None if t is None else int(t * w / total),
                calls=None if c is None else int(c * w / total),
                cost=None if k is None else k * w / total,
                seconds=s,
            )
            for w in weights
        ]

    def __repr__(self) -> str:
        limits = {k: getattr(self, k) for k in ("tokens", "calls", "cost", "seconds") if getattr(self, k) is not None}
        return f"Meter({limits}, used={self.used})"
