"""Text embedders for clustering (Auto-CoT demos, CodeChain sub-modules).

- :class:`TfidfEmbedder`: offline, no download: TF-IDF then truncated SVD (LSA), unit-normalised.
- :class:`LiteLLMEmbedder`: any embedding model litellm supports.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.errors import ConfigError
from ..llm.convert import convert_error, litellm

__all__ = ["Embedder", "TfidfEmbedder", "LiteLLMEmbedder"]


class Embedder(ABC):
    """Maps texts to an (n, d) float array; rows of similar texts are close."""

    @abstractmethod
    async def aembed(self, texts: Sequence[str]) -> np.ndarray: ...


class TfidfEmbedder(Embedder):
    """TF-IDF over word 1-2 grams, reduced to ``dim`` dimensions by SVD, rows L2-normalised.

    Fitted on the texts it embeds (the pool being clustered), so it needs no model.
    """

    def __init__(self, dim: int = 64, *, seed: int = 0) -> None:
        if dim < 1:
            raise ConfigError("TfidfEmbedder dim must be >= 1")
        self.dim = dim
        self.seed = seed

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim, "seed": self.seed}

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize

        if not texts:
            raise ConfigError("nothing to embed")
        tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(list(texts))
        k = min(self.dim, tfidf.shape[0] - 1, tfidf.shape[1] - 1)
        if k < 1:
            dense = tfidf.toarray()
        else:
            # Repeated texts make the explained-variance ratio (which is not used) 0/0.
            with np.errstate(invalid="ignore", divide="ignore"):
                dense = TruncatedSVD(n_components=k, random_state=self.seed).fit_transform(tfidf)
        return np.asarray(normalize(dense), dtype=np.float64)


class LiteLLMEmbedder(Embedder):
    """Embeddings from an API model, e.g. ``LiteLLMEmbedder("openai/text-embedding-3-small")``."""

    def __init__(self, model: str, **litellm_kwargs: Any) -> None:
        self.model = model
        self.kwargs = litellm_kwargs

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        try:
            response = await litellm().aembedding(model=self.model, input=list(texts), **self.kwargs)
        except Exception as e:
            raise convert_error(e, self.model, (self.kwargs.get("api_key"),)) from e
        rows = [item["embedding"] if isinstance(item, dict) else item.embedding for item in response.data]
        return np.asarray(rows, dtype=np.float64)
