#!/usr/bin/env bash
# Build llama.cpp's own HTTP server from the llama.cpp sources that the llama-cpp-python
# sdist on PyPI vendors (same version as the installed package; nothing from other hosts).
# Why: it batches parallel requests (-np slots, continuous batching), which on 2 cores
# gives ~2.3x the tokens/s of one stream for the 1.5B model; llama-cpp-python's own
# server and the in-process model decode one sequence at a time.
# Usage: benchmarks/build_llama_server.sh [python]   -> prints the binary's path
set -euo pipefail
PY=${1:-.venv/bin/python}
VERSION=$("$PY" -c "import importlib.metadata as m; print(m.version('llama-cpp-python'))")
DEST="${XDG_CACHE_HOME:-$HOME/.cache}/reasoners/llama-server-$VERSION"
if [ ! -x "$DEST/llama-server" ]; then
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
    "$PY" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$WORK" >&2
    tar xzf "$WORK"/llama_cpp_python-*.tar.gz -C "$WORK"
    SRC=$(echo "$WORK"/llama_cpp_python-*/vendor/llama.cpp)
    # Portable x86-64 flags (AVX2), as the pip build uses; static, no curl/ssl.
    cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF >&2
    cmake --build "$WORK/build" -j "$(nproc)" --target llama-server >&2
    mkdir -p "$DEST"
    cp "$WORK/build/bin/llama-server" "$DEST/"
fi
echo "$DEST/llama-server"
