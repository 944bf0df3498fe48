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

.PHONY: demo demo-forget demo-month test test-full lint format docs clean help browser

help:
	@echo "make demo   - set up .venv and run the whole job on the real built-in base (smollm2-135m)"
	@echo "make test   - set up .venv (llama-cpp-python included) and run lint + the test suite"
	@echo "make demo-forget - after make demo: forget one sample correction, retrain, verify"
	@echo "make demo-month - after make demo: the next month of her life and the monthly cycle on it"
	@echo "make test-full - also chromium, the real base and the long tests: browser and slow tests"
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
	@echo "Building llama-cpp-python to verify GGUF exports: about 6 minutes on 2 cores, once."
	@CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) install -q -c $(CONSTRAINTS) -e ".[gguf]" & pid=$$!; \
	start=$$(date +%s); \
	while kill -0 $$pid 2>/dev/null; do \
		sleep 30; kill -0 $$pid 2>/dev/null && echo "  ... still building llama.cpp ($$(( $$(date +%s) - start )) s)"; \
	done; wait $$pid
	touch $@

$(VENV)/.installed-test: pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PIP) install -q -c $(CONSTRAINTS) torch
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[train,serve,dev]"
	touch $@ $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo $(VENV)/.installed-gguf
	PERSONAFORGE_HOME="$(DEMO_HOME)" $(VENV)/bin/personaforge demo

# Forgetting on the demo home: one correction out of the store, the datasets and every
# model; DPO replayed from the version that never saw it; old and new compared. Its measured
# time: bench/RESULTS.md, "then `make demo-forget` on the same home".
demo-forget: $(VENV)/.installed-demo $(VENV)/.installed-gguf
	PERSONAFORGE_HOME="$(DEMO_HOME)" $(VENV)/bin/personaforge demo --forget

# The next month of the sample person's life, then the monthly cycle on the demo home: the
# gate must see the new version beat the old one on that month's held-out replies.
demo-month: $(VENV)/.installed-demo $(VENV)/.installed-gguf
	PERSONAFORGE_HOME="$(DEMO_HOME)" $(VENV)/bin/personaforge demo --add-month

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

# The GGUF round-trip tests need llama-cpp-python, so `make test` (and .ci/run) build it
# first, once per .venv: with the suite, well inside CI's 90 minutes (both times:
# bench/RESULTS.md, "demo on the real base").
test: lint $(VENV)/.installed-gguf
	$(VENV)/bin/pytest

# Headless Chromium for the dashboard's browser tests: Debian's package, driven by Playwright
# (never `playwright install`). Nothing to do when chromium is there; without root it says
# so and those tests skip.
browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "no chromium and not root: the browser tests will skip (apt-get install chromium)"; fi

# Everything: the browser tests, the real base built from its package, the long tests,
# and the demo on the real base in a scratch home (GGUF round-trips already run in `test`).
test-full: lint $(VENV)/.installed-gguf browser
	PERSONAFORGE_TEST_FULL=1 $(VENV)/bin/pytest
	home=$$(mktemp -d) && PERSONAFORGE_HOME=$$home $(VENV)/bin/personaforge demo && rm -rf $$home

format: $(VENV)/.installed-test
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

docs: $(VENV)/.installed-demo
	$(PY) -c "from personaforge.config import render_reference_markdown as r; print(r(), end='')" > docs/configuration.md

clean:
	rm -rf $(VENV) .demo-home
