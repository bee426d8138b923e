# Loss Functions in Deep Learning: build, test and run the course.
# `make` (or `make help`) lists the targets. Every target installs what it needs into .venv first.

PYTHON ?= python3
VENV = .venv
VPY = $(VENV)/bin/python
JUPYTER_BOOK = $(VENV)/bin/jupyter-book
STAMP = $(VENV)/.installed

# nbval's run sets its own options: the doctest-modules addopts of pyproject.toml would make pytest
# import every .py under book/ as a module.
NBVAL = $(VPY) -m pytest -o addopts="" --nbval --nbval-current-env \
	--nbval-sanitize-with book/nbval_sanitize.cfg book/

.DEFAULT_GOAL := help
.PHONY: help install book test execute lab serve clean

help: ## List the targets
	@echo "Loss Functions in Deep Learning: make targets"
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "Python 3.11 or newer is needed; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
		echo "Run for example: make PYTHON=python3.11 $(MAKECMDGOALS)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --upgrade pip
	$(VPY) -m pip install -r requirements.txt
	touch $@

install: $(STAMP) ## Create .venv and install the pinned requirements and lossbook

book: $(STAMP) ## Execute every chapter and build the website from clean (strict)
	rm -rf _build
	$(JUPYTER_BOOK) build . -W -n --keep-going
	@echo "Open file://$(CURDIR)/_build/html/index.html"

test: $(STAMP) ## Run everything CI runs: library tests, nbval over the chapters, strict book build
	@start=$$(date +%s); \
	$(VPY) -m pytest src/lossbook tests && \
	$(NBVAL) && \
	$(MAKE) --no-print-directory book && \
	echo "make test: all passed in $$(( $$(date +%s) - start )) s"

execute: $(STAMP) ## Re-execute the notebooks and store their outputs (after any change in src/)
	$(VPY) tools/execute_notebooks.py

lab: $(STAMP) ## Open the chapters in JupyterLab
	$(VENV)/bin/jupyter lab book/

serve: ## Serve the built website at http://127.0.0.1:8000
	$(VPY) -m http.server --bind 127.0.0.1 --directory _build/html 8000

clean: ## Remove the built website
	rm -rf _build
