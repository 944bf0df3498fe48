# personaforge — the two commands: `make demo` and `make test`.
# Both create .venv when missing and install with torch pinned through
# constraints.txt (an unpinned torch pulls several GB of CUDA wheels).

PYTHON      ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip --disable-pip-version-check
CONSTRAINTS := constraints.txt
# The demo keeps its state inside the checkout unless PERSONAFORGE_HOME is set,
# so it never mixes the sample person into your own ~/.personaforge.
DEMO_HOME   ?= $(if $(PERSONAFORGE_HOME),$(PERSONAFORGE_HOME),$(CURDIR)/.demo-home)

.PHONY: demo test test-full lint format docs clean help

help:
	@echo "make demo   - set up .venv and run the whole job on the tiny base and sample data"
	@echo "make test   - set up .venv and run lint + the test suite"
	@echo "make test-full - also build llama-cpp-python and run the GGUF export tests"
	@echo "make docs   - regenerate docs/configuration.md from the settings schema"
	@echo "make clean  - remove .venv and the demo state"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps record what is installed; they are redone when the dependency files change.
$(VENV)/.installed-demo: pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PIP) install -q -c $(CONSTRAINTS) torch
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[train,serve]"
	touch $@

# llama-cpp-python (GGUF verification) builds llama.cpp from source: about 6 minutes
# on 2 cores, once. GGML_NATIVE=OFF keeps the build portable across CPUs.
$(VENV)/.installed-gguf: pyproject.toml $(CONSTRAINTS) | $(PY)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) install -q -c $(CONSTRAINTS) -e ".[gguf]"
	touch $@

$(VENV)/.installed-test: pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PIP) install -q -c $(CONSTRAINTS) torch
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[train,serve,dev]"
	touch $@ $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo $(VENV)/.installed-gguf
	PERSONAFORGE_HOME="$(DEMO_HOME)" $(VENV)/bin/personaforge demo

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

test: lint
	$(VENV)/bin/pytest

# Everything, GGUF round-trips through llama-cpp-python included.
test-full: lint $(VENV)/.installed-gguf
	$(VENV)/bin/pytest

format: $(VENV)/.installed-test
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

docs: $(VENV)/.installed-demo
	$(PY) -c "from personaforge.config import render_reference_markdown as r; print(r(), end='')" > docs/configuration.md

clean:
	rm -rf $(VENV) .demo-home
