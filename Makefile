# Loss Functions in Deep Learning: build, test and run the course.
# `make` (or `make help`) lists the targets. Every target installs what it needs into .venv first.

PYTHON ?= python3
VENV = .venv
VPY = $(VENV)/bin/python
JUPYTER_BOOK = $(VENV)/bin/jupyter-book
STAMP = $(VENV)/.installed

# nbval's run sets its own options: the doctest-modules addopts of pyproject.toml would make pytest
# import every .py under book/ as a module.
# Two workers (pytest-xdist), one notebook each at a time (--dist loadfile keeps a notebook's cells
# together in one kernel): the chapters run about twice as fast on two cores.
NBVAL = $(VPY) -m pytest -o addopts="" --nbval --nbval-current-env \
	--nbval-sanitize-with book/nbval_sanitize.cfg -n 2 --dist loadfile book/

# One BLAS thread for everything the Makefile runs (make execute, nbval, the tests): the same
# summation order as the stored outputs, and no oversubscription of a 2-core machine.
# `make bench` measures with the machine's defaults instead.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

# `make pdf`: Debian's TeX, about 75 MB (.ci/run installs the same list; see README).
TEX_PACKAGES = $(file < tools/tex-packages.txt)
PDF = _build/latex/loss-functions-in-deep-learning.pdf
HAVE_TEX = command -v xelatex >/dev/null && command -v latexmk >/dev/null

.DEFAULT_GOAL := help
.PHONY: help install book book-student pdf assignments check lint test execute bench lab serve clean

help: ## List the targets
	@echo "Loss Functions in Deep Learning: make targets"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "Python 3.11 or newer is needed; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
		echo "Run for example: make PYTHON=python3.11 $(MAKECMDGOALS)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --upgrade pip
	$(VPY) -m pip install -r requirements.txt
	touch $@

install: $(STAMP) ## Create .venv and install the pinned requirements and lossbook

# The website shows the chapters' stored outputs (execute_notebooks: off in _config.yml; nbval in
# `make test` checks them against a fresh run). From clean, but only what the HTML build writes:
# the student site, the PDF and the assignments under _build/ stay.
HTML_BUILD = _build/html _build/.doctrees _build/jupyter_execute

book: $(STAMP) ## Build the website from the stored outputs (strict; make execute re-runs chapters)
	rm -rf $(HTML_BUILD)
	$(JUPYTER_BOOK) build . -W -n --keep-going
	@echo "Open file://$(CURDIR)/_build/html/index.html"

book-student: $(STAMP) ## Build the website without any solution into _build/student (for students)
	rm -rf _build/student
	LOSSBOOK_STUDENT_BUILD=1 $(JUPYTER_BOOK) build . --path-output _build/student -W -n --keep-going
	@echo "Open file://$(CURDIR)/_build/student/_build/html/index.html"

pdf: $(STAMP) ## Typeset the whole book as one PDF (_build/latex), needs Debian's TeX packages
	@$(HAVE_TEX) || { echo "make pdf needs XeLaTeX and latexmk. On Debian or Ubuntu:"; \
		echo "  sudo apt-get install --no-install-recommends $(TEX_PACKAGES)"; exit 1; }
	rm -rf _build/latex  # from clean: after a failed run latexmk keeps reporting the old error
	$(JUPYTER_BOOK) build . --builder pdflatex -W -n --keep-going
	@test -s $(PDF) || { echo "make pdf: $(PDF) was not written"; exit 1; }
	@echo "PDF: $(CURDIR)/$(PDF)"

assignments: $(STAMP) ## One student notebook per chapter, solutions stubbed and checked, in _build/assignments
	$(VPY) tools/make_assignments.py

# Checks of what the builds produce (run last, on the fresh builds).
BUILD_TESTS = tests/test_site_in_browser.py tests/test_pdf.py
# The library's tests and doctests, the stored-notebook checks and the assignments.
PYTEST = $(VPY) -m pytest src/lossbook tests $(addprefix --ignore=,$(BUILD_TESTS))
# Two workers (pytest-xdist): measured on a 2-core machine, `make check` took about 30 s instead of
# 43 s, and `make test`'s first step 99 s instead of 154 s. Work stealing, because the assignments'
# notebook runs (the slow tests, adjacent in the collection) would all go to one worker in its first
# batch with `--dist load`. `make check` leaves them out (-m "not slow", see pyproject.toml).
PYTEST_PARALLEL = -n 2 --dist worksteal
# Python under src/, tests/ and tools/ (not the notebooks); the rules are in pyproject.toml.
RUFF = $(VENV)/bin/ruff check src tests tools conftest.py

lint: $(STAMP) ## Run ruff over src/, tests/ and tools/ (rules in pyproject.toml)
	$(RUFF)

check: $(STAMP) ## Fast checks before a commit: ruff, then the library tests and doctests (no notebook runs)
	@start=$$(date +%s); \
	$(RUFF) && \
	$(PYTEST) $(PYTEST_PARALLEL) -m "not slow" && \
	echo "make check: all passed in $$(( $$(date +%s) - start )) s"

test: $(STAMP) ## Run everything CI runs: ruff, library tests, assignments, nbval, both websites, the PDF, the browser checks
	@start=$$(date +%s); \
	$(RUFF) && \
	$(PYTEST) $(PYTEST_PARALLEL) && \
	$(NBVAL) && \
	$(MAKE) --no-print-directory book && \
	$(MAKE) --no-print-directory book-student && \
	{ if $(HAVE_TEX); then $(MAKE) --no-print-directory pdf; \
	  else echo "make test: no XeLaTeX/latexmk, the PDF is not built (its tests will say so)"; fi; } && \
	$(VPY) -m pytest -o addopts="" $(BUILD_TESTS) && \
	echo "make test: all passed in $$(( $$(date +%s) - start )) s"

execute: $(STAMP) ## Re-execute the notebooks and store their outputs (after any change in src/)
	$(VPY) tools/execute_notebooks.py

bench: $(STAMP) ## Time lossbook against naive NumPy (and PyTorch if installed); not part of test
	env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS $(VPY) tools/bench.py

lab: $(STAMP) ## Open the chapters in JupyterLab
	$(VENV)/bin/jupyter lab book/

serve: ## Serve the built website at http://127.0.0.1:8000
	$(VPY) -m http.server --bind 127.0.0.1 --directory _build/html 8000

clean: ## Remove everything built (_build: both websites, the PDF, the assignments)
	rm -rf _build
