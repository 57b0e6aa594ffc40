# Two entry points: `make run` (answer a question on the embedded model) and `make test`.
# Both create .venv and install the project on first use; llama-cpp-python compiles
# from source once (a few minutes) and pip caches the wheel.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
Q ?= A farmer has 3 pens with 4 sheep in each pen. How many sheep does the farmer have?

.PHONY: install run test bench-overhead

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet -e ".[local,test]"
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/reasoners run "$(Q)"

test: install
	$(BIN)/python -m pytest -q
