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

# One BLAS thread for everything the Makefile runs (the book build executes the chapters too): the
# same summation order as the stored outputs, and no oversubscription of a 2-core machine.
# `make bench` measures with the machine's defaults instead.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

# `make pdf`: Debian's TeX, about 75 MB (.ci/run installs the same list; see README).
TEX_PACKAGES = $(file < tools/tex-packages.txt)
PDF = _build/latex/loss-functions-in-deep-learning.pdf
HAVE_TEX = command -v xelatex >/dev/null && command -v latexmk >/dev/null

.DEFAULT_GOAL := help
.PHONY: help install book book-student pdf assignments test execute bench lab serve clean

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

book: $(STAMP) ## Execute every chapter and build the website from clean (strict)
	rm -rf _build
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

test: $(STAMP) ## Run everything CI runs: library tests, nbval, both websites, the PDF, the browser checks
	@start=$$(date +%s); \
	$(VPY) -m pytest src/lossbook tests $(addprefix --ignore=,$(BUILD_TESTS)) && \
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

clean: ## Remove the built website
	rm -rf _build
