"""Continuous batching for the embedded model: concurrent samples decode together.

Each sample is one llama.cpp *sequence* in a context of its own with room for ``slots``
sequences. A worker thread runs the loop: it admits waiting samples into free slots, evaluates
a prompt once and copies its cache to every other sample with the same prompt (self-
consistency's samples share one), then decodes one token for every running sample in a single
``llama_decode`` call, until each stops (end of text, a stop string, ``max_tokens``, or its
group confidence falling below ``stop_below``). Samples that arrive while others run join the
running batch at the next step instead of waiting for them.

Sampling is per sample: its own seed, temperature and top-p (llama.cpp's sampler chain, with
llama-cpp-python's defaults). A batched matrix product rounds differently in the last bits from
a lone one, and a shared cache shifts the attention's sums: enough to change a draw from a near
tie, so a sample's text can depend on what decodes beside it. Greedy samples therefore run in a
scheduler of one slot (``slots=1``), where a prompt and its tokens compute exactly as alone.
Logprobs are read from the row of logits llama.cpp returns for that sample, and only when the
sample asks for them (or for its confidence cut).
"""

from __future__ import annotations

import ctypes
import math
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.errors import ContextWindowError
from .confidence import GroupWatch, StopBelow
from .types import TokenLogprob

__all__ = ["BatchScheduler", "SampleRequest", "SampleResult"]


@dataclass
class SampleRequest:
    """One sample to draw: the prompt's tokens and its sampling settings."""

    tokens: list[int]
    max_tokens: int
    temperature: float
    top_p: float
    seed: int
    stop: list[str]
    logprobs: bool = False
    top_logprobs: int | None = None
    stop_below: tuple[int, float] | None = None
    cancelled: bool = False  # set by the caller that stopped waiting: the sample leaves the batch


@dataclass
class SampleResult:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    logprobs: list[TokenLogprob] | None


@dataclass
class _Running:
    request: SampleRequest
    done: Callable[[SampleResult | BaseException], None]
    seq: int
    sampler: Any
    pos: int  # the next position to write in this sequence
    batch_index: int = -1  # where this sequence's logits are in the last decode
    ids: list[int] = field(default_factory=list)
    text: str = ""
    logprobs: list[TokenLogprob] = field(default_factory=list)
    watch: GroupWatch | None = None
    pending: bytes = b""  # bytes of a multi-byte character not yet complete
    reason: str | None = None  # why it stopped, once it has


class BatchScheduler:
    """Decodes the samples of every caller together, up to ``slots`` at once, in a llama.cpp
    context of its own on ``llama``'s weights (``n_ctx`` tokens shared by the running samples)."""

    def __init__(self, llama: Any, *, slots: int = 8, n_ctx: int = 8192, n_threads: int = 1) -> None:
        import llama_cpp as lc

        self.lc = lc
        self.llama = llama
        self.slots = slots
        self.n_ctx = n_ctx
        params = lc.llama_context_default_params()
        for name, _ in params._fields_:  # as the model's own context (flash attention off, rope scaling):
            setattr(params, name, getattr(llama.context_params, name))  # so a sample computes as it did alone
        params.n_ctx = n_ctx
        self.n_batch = max(512, slots)  # tokens per llama_decode call: a prompt's chunk, or one per sample
        params.n_batch = params.n_ubatch = self.n_batch
        params.n_seq_max = slots
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        params.kv_unified = True  # the running samples share one cache of n_ctx cells
        params.no_perf = True
        self.ctx = lc.llama_init_from_model(llama.model, params)
        if not self.ctx:
            raise MemoryError("llama.cpp could not make a batching context")
        self.memory = lc.llama_get_memory(self.ctx)
        self.vocab = lc.llama_model_get_vocab(llama.model)
        self.n_vocab = lc.llama_vocab_n_tokens(self.vocab)
        self.batch = lc.llama_batch_init(params.n_batch, 0, slots)
        self.decodes = 0  # llama_decode calls made (tests count them)
        self.prompt_evaluations = 0  # prompts evaluated in full (a shared prompt counts once)
        self._queue: queue.Queue[tuple[SampleRequest, Callable[[SampleResult | BaseException], None]] | None] = (
            queue.Queue())
        self._thread = threading.Thread(target=self._loop, name="reasoners-batching", daemon=True)
        self._thread.start()

    # -- the callers' side ----------------------------------------------------------------

    def submit(self, request: SampleRequest, done: Callable[[SampleResult | BaseException], None]) -> None:
        """Queue ``request``; ``done`` is called from the worker thread with its result or error
        (it must not raise). A request whose ``cancelled`` is set leaves the batch at the next step."""
        if len(request.tokens) + 1 >= self.n_ctx:
            raise ContextWindowError(f"a prompt of {len(request.tokens)} tokens does not fit the batching "
                                     f"context of {self.n_ctx}")
        self._queue.put((request, done))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)
        self.lc.llama_batch_free(self.batch)
        self.lc.llama_free(self.ctx)

    # -- the worker --------------------------------------------------------------------------

    def _loop(self) -> None:
        running: list[_Running] = []
        free = list(range(self.slots))
        waiting: list[tuple[SampleRequest, Callable[[SampleResult | BaseException], None]]] = []
        while True:
            block = not running and not waiting
            try:
                while True:
                    item = self._queue.get(block=block)
                    block = False
                    if item is None:
                        for r in running:
                            r.done(RuntimeError("the model was closed"))
                        return
                    waiting.append(item)
            except queue.Empty:
                pass
            admitted: list[_Running] = []
            waiting = [(request, done) for request, done in waiting if not request.cancelled]
            while waiting and free and self._room(running + admitted, waiting[0][0]):
                request, done = waiting.pop(0)
                admitted.append(self._start(request, done, free.pop(0)))
            try:
                if admitted:
                    self._prefill(admitted, running)
                    running += admitted
                if running:
                    finished = self._step(running)
                    for r in finished:
                        running.remove(r)
                        self.lc.llama_memory_seq_rm(self.memory, r.seq, -1, -1)
                        self.lc.llama_sampler_free(r.sampler)
                        free.append(r.seq)
            except BaseException as e:  # a decode failure fails the samples it concerned, not the thread
                for r in running + [a for a in admitted if a not in running]:
                    r.done(e)
                    self.lc.llama_memory_seq_rm(self.memory, r.seq, -1, -1)
                    self.lc.llama_sampler_free(r.sampler)
                    free.append(r.seq)
                running = []

    def _room(self, running: list[_Running], request: SampleRequest) -> bool:
        """Whether the cache can hold ``request`` to its end beside the running samples' worst case."""
        need = sum(len(r.request.tokens) + r.request.max_tokens for r in running)
        return need + len(request.tokens) + request.max_tokens <= self.n_ctx or not running

    def _start(self, request: SampleRequest, done: Callable[[SampleResult | BaseException], None],
               seq: int) -> _Running:
        lc = self.lc
        chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
        if request.temperature <= 0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_greedy())
        else:  # llama-cpp-python's completion defaults (top-k 40, min-p 0.05), so a sample draws as it did alone
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_k(40))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_p(request.top_p, 1))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_min_p(0.05, 1))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_temp(request.temperature))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(request.seed & 0xFFFFFFFF))
        watch = GroupWatch(StopBelow(*request.stop_below)) if request.stop_below is not None else None
        return _Running(request, done, seq, chain, pos=0, watch=watch)

    def _add(self, i: int, token: int, pos: int, seqs: list[int], logits: bool) -> None:
        b = self.batch
        b.token[i] = token
        b.pos[i] = pos
        b.n_seq_id[i] = len(seqs)
        for j, s in enumerate(seqs):
            b.seq_id[i][j] = s
        b.logits[i] = logits

    def _decode(self, n: int) -> None:
        self.batch.n_tokens = n
        self.decodes += 1
        rc = self.lc.llama_decode(self.ctx, self.batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed ({rc})")

    def _prefill(self, admitted: list[_Running], running: list[_Running]) -> None:
        """Evaluate each distinct prompt once, whole, for every admitted sample that has it (a token
        in a batch may belong to several sequences): its last row of logits is every member's first
        distribution. A sampled request whose prompt a running sample already holds copies that
        cache instead and evaluates only the prompt's last token."""
        groups: dict[tuple[int, ...], list[_Running]] = {}
        for r in admitted:
            groups.setdefault(tuple(r.request.tokens), []).append(r)
        n_batch = self.n_batch
        held = {tuple(r.request.tokens): r.seq for r in running}  # prompts already in the cache
        tails: list[_Running] = []
        for tokens, members in groups.items():
            source = held.get(tokens)
            if source is not None:
                for m in members:
                    self.lc.llama_memory_seq_cp(self.memory, source, m.seq, 0, len(tokens) - 1)
                    m.pos = len(tokens) - 1
                tails += members
                continue
            self.prompt_evaluations += 1
            seqs = [m.seq for m in members]
            for start in range(0, len(tokens), n_batch):
                chunk = tokens[start:start + n_batch]
                for i, tok in enumerate(chunk):
                    self._add(i, tok, start + i, seqs, start + i == len(tokens) - 1)
                self._decode(len(chunk))
            for m in members:
                m.pos = len(tokens)
                m.batch_index = len(tokens) - 1 - (len(tokens) - 1) // n_batch * n_batch
            self._sample(members)
        if tails:  # the last prompt token of each copied sequence, to sample its first token from
            for i, m in enumerate(tails):
                self._add(i, m.request.tokens[-1], m.pos, [m.seq], True)
                m.batch_index = i
                m.pos += 1
            self._decode(len(tails))
            self._sample(tails)

    def _step(self, running: list[_Running]) -> list[_Running]:
        """Decode the last sampled token of every running sample in one call, then sample the next."""
        for r in running:
            if r.request.cancelled and r.reason is None:
                r.reason = "cancelled"
        finished = [r for r in running if r.reason is not None]  # _sample sets it: end, stop, length, cut
        active = [r for r in running if r not in finished]
        for i, r in enumerate(active):
            self._add(i, r.ids[-1], r.pos, [r.seq], True)
            r.batch_index = i
            r.pos += 1
        if active:
            self._decode(len(active))
            self._sample(active)
        for r in finished:
            self._finish(r)
        return finished

    def _sample(self, members: list[_Running]) -> None:
        lc = self.lc
        for r in members:
            if r.reason is not None:
                continue
            token = int(lc.llama_sampler_sample(r.sampler, self.ctx, r.batch_index))
            want = r.request.logprobs or r.watch is not None
            if want:
                row = np.ctypeslib.as_array(lc.llama_get_logits_ith(self.ctx, r.batch_index), shape=(self.n_vocab,))
                k = r.request.top_logprobs or (20 if r.watch is not None else 0)
                norm, top = log_softmax_top(row, k)
                if r.watch is not None and r.watch.add_confidence(-sum(top) / len(top)):
                    r.reason = "confidence"
                if r.request.logprobs:
                    best = top[: r.request.top_logprobs] if r.request.top_logprobs else None
                    r.logprobs.append(TokenLogprob(self._piece(token), float(row[token]) - norm, best))
            if lc.llama_vocab_is_eog(self.vocab, token):
                if r.logprobs and r.request.logprobs:
                    r.logprobs.pop()  # the end-of-text token is not part of the text
                r.reason = "stop"
                continue
            r.ids.append(token)
            r.pending += self._bytes(token)
            try:
                r.text += r.pending.decode("utf-8")
                r.pending = b""
            except UnicodeDecodeError:
                if len(r.pending) > 8:
                    r.text += r.pending.decode("utf-8", errors="replace")
                    r.pending = b""
            for stop in r.request.stop:
                at = r.text.find(stop)
                if stop and at >= 0:
                    r.text = r.text[:at]
                    r.reason = "stop"
                    break
            if r.reason is None and len(r.ids) >= r.request.max_tokens:
                r.reason = "length"

    def _finish(self, r: _Running) -> None:
        if r.pending:
            r.text += r.pending.decode("utf-8", errors="replace")
        reason = r.reason or "length"
        r.done(SampleResult(text=r.text, finish_reason=reason, prompt_tokens=len(r.request.tokens),
                            completion_tokens=len(r.ids), logprobs=r.logprobs if r.request.logprobs else None))

    def _bytes(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = self.lc.llama_token_to_piece(self.vocab, token, buf, 64, 0, True)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self.lc.llama_token_to_piece(self.vocab, token, buf, -n, 0, True)
        return buf.raw[:n]

    def _piece(self, token: int) -> str:
        return self._bytes(token).decode("utf-8", errors="replace")


def log_softmax_top(logits: np.ndarray, k: int) -> tuple[float, list[float]]:
    """The log-normaliser of a row of logits, and its ``k`` largest logprobs, largest first.

    In float32 with a max shift (a full ``logaddexp`` reduce in float64 cost ~8 ms a token over
    Qwen's 152k vocabulary, this ~0.5 ms); the top ``k`` come from the few logits within 30 nats
    of the largest when there are ``k`` of them (the rest cannot be among the top ``k``), else
    from a partition of the whole row."""
    peak = float(logits.max())
    norm = peak + math.log(float(np.exp(logits - np.float32(peak)).sum(dtype=np.float64)))
    if k <= 0:
        return norm, []
    near = logits[logits > peak - 30.0]
    pool = near if near.size >= k else logits
    top = np.partition(pool, pool.size - k)[-k:] if pool.size > k else pool
    return norm, sorted((float(x) - norm for x in top), reverse=True)
