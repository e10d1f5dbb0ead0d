# Two entry points on a fresh machine: `make demo` and `make test`.
# Each builds its own virtual environment in .venv (nothing installed by hand).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU build of torch lies on this machine's disk; other versions pull multi-GB CUDA builds.
TORCH  ?= torch==2.13.0

.PHONY: demo test check bench clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m rnnlab demo

test: $(VENV)/.installed
	$(PY) -m pytest -q

check: $(VENV)/.installed
	$(VENV)/bin/rnnlab check

bench: $(VENV)/.installed
	$(PY) benchmarks/engine_speed.py

clean:
	rm -rf $(VENV)
