# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_VERSION ?= 2.13.0
STAMP := $(VENV)/.easel-installed

.PHONY: demo test test-all lint bench clean setup mutate

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: on these machines it is the local CPU wheel; the range in
	# pyproject.toml is then already met and no CUDA build is pulled in.
	$(PIP) install --quiet "torch==$(TORCH_VERSION)"
	$(PIP) install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/easel demo -o outputs/demo --overwrite
	@echo "open outputs/demo/index.html"

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

test-all: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m "not network and not gpu"

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# Mutation testing over the core modules ([tool.mutmut] in pyproject.toml, docs/mutation.md);
# a developer target, not run in CI. PYTHONPATH: tests that start `python -m easel` import
# the mutated copy too (the folder must exist before Python starts, or its import cache
# remembers it as missing). The report writes benchmarks/results/mutation.{json,md}.
# MUTANTS: the modules run by default (those that fit about 30 minutes on 2 cores);
# `make mutate MUTANTS=` runs every module in [tool.mutmut] (hours: docs/mutation.md).
MUTANTS ?= 'easel.io.atomic.*' 'easel.io.images.*' 'easel.cameras.*' 'easel.cli.*' 'easel.style.losses.*'
mutate: $(STAMP)
	rm -rf mutants && mkdir -p mutants/src
	PYTHONPATH=$(CURDIR)/mutants/src nice -n 10 $(VENV)/bin/mutmut run --max-children 2 $(MUTANTS)
	$(PY) tools/mutation_report.py

clean:
	rm -rf $(VENV) outputs mutants .pytest_cache .mypy_cache .ruff_cache
