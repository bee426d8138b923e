# Loss Functions in Deep Learning: build, test and run the course.
# `make` (or `make help`) lists the targets. Every target installs what it needs into .venv first.

PYTHON ?= python3
VENV = .venv
VPY = $(VENV)/bin/python
JUPYTER_BOOK = $(VENV)/bin/jupyter-book
STAMP = $(VENV)/.installed
# The kernels' configuration (tools/ipython_kernel_config.py: drops ipykernel's "Kernel is running
# over TCP without encryption" notice, printed at every kernel start: once per chapter in make execute).
KERNEL_CONFIG = $(VENV)/etc/ipython/ipython_kernel_config.py
INSTALLED = $(STAMP) $(KERNEL_CONFIG)

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
.PHONY: help install book book-student pdf assignments check lint test execute experiments bench colab-check lab serve clean

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

$(KERNEL_CONFIG): tools/ipython_kernel_config.py $(STAMP)
	mkdir -p $(@D)
	cp tools/ipython_kernel_config.py $@

install: $(INSTALLED) ## Create .venv and install the pinned requirements and lossbook

# The website shows the chapters' stored outputs (execute_notebooks: off in _config.yml; nbval in
# `make test` checks them against a fresh run). From clean, but only what the HTML build writes:
# the student site, the PDF and the assignments under _build/ stay.
HTML_BUILD = _build/html _build/.doctrees _build/jupyter_execute

book: $(INSTALLED) ## Build the website into _build/html from the stored outputs (strict; other builds stay)
	rm -rf $(HTML_BUILD)
	$(JUPYTER_BOOK) build . -W -n --keep-going
	@echo "Open file://$(CURDIR)/_build/html/index.html (or run make serve)"

book-student: $(INSTALLED) ## Build the website without any solution into _build/student (for students)
	rm -rf _build/student
	LOSSBOOK_STUDENT_BUILD=1 $(JUPYTER_BOOK) build . --path-output _build/student -W -n --keep-going
	@echo "Open file://$(CURDIR)/_build/student/_build/html/index.html (or run make serve SITE=student)"

pdf: $(INSTALLED) ## Typeset the whole book as one PDF (_build/latex), needs Debian's TeX packages
	@$(HAVE_TEX) || { echo "make pdf needs XeLaTeX and latexmk. On Debian or Ubuntu:"; \
		echo "  sudo apt-get install --no-install-recommends $(TEX_PACKAGES)"; exit 1; }
	rm -rf _build/latex  # from clean: after a failed run latexmk keeps reporting the old error
	$(JUPYTER_BOOK) build . --builder pdflatex -W -n --keep-going
	@test -s $(PDF) || { echo "make pdf: $(PDF) was not written"; exit 1; }
	@echo "PDF: $(CURDIR)/$(PDF)"

assignments: $(INSTALLED) ## One student notebook per chapter, solutions stubbed and checked, in _build/assignments
	$(VPY) tools/make_assignments.py

# Checks of what the builds produce (run last, on the fresh builds), on two workers with work stealing
# like the library's tests (PYTEST_PARALLEL): each worker serves the sites on a port of its own (port
# 0, the system picks) and launches its own Chromium (module-scoped fixtures), and the tests only read
# the builds. Measured on 59 of the 95 tests (every third page) on the 2-core machine while other jobs
# kept its load average at 8 to 10: 744 s serially, 587 s on two workers. The two API pages are the
# longest tests (2 to 3 min each under that load).
BUILD_TESTS = tests/test_site_in_browser.py tests/test_pdf.py
# Three tests in other files read the fresh websites too: in the first step they would see the last
# build (stale, or none in a clean clone, where they skip), so they run with the build tests.
BUILT_SITE_TESTS = tests/test_launch_buttons.py::test_the_built_website_carries_the_same_urls \
	tests/test_myst_to_markdown.py::test_links_to_the_website_lead_to_pages_and_anchors_that_exist \
	tests/test_editions.py::test_the_class_edition_site_holds_no_solution
# The library's tests and doctests, the stored-notebook checks and the assignments.
PYTEST = $(VPY) -m pytest src/lossbook tests $(addprefix --ignore=,$(BUILD_TESTS)) \
	$(addprefix --deselect=,$(BUILT_SITE_TESTS))
# Two workers (pytest-xdist): measured on a 2-core machine, `make check` took about 30 s instead of
# 43 s, and `make test`'s first step 99 s instead of 154 s. Work stealing, because the assignments'
# notebook runs (the slow tests, adjacent in the collection) would all go to one worker in its first
# batch with `--dist load`. `make check` leaves them out (-m "not slow", see pyproject.toml).
PYTEST_PARALLEL = -n 2 --dist worksteal
# Python under src/, tests/ and tools/ (not the notebooks); the rules are in pyproject.toml.
RUFF = $(VENV)/bin/ruff check src tests tools conftest.py

lint: $(INSTALLED) ## Run ruff over src/, tests/ and tools/ (rules in pyproject.toml)
	$(RUFF)

check: $(INSTALLED) ## Fast checks before a commit: ruff, then the library tests and doctests (no notebook runs)
	@start=$$(date +%s); \
	$(RUFF) && \
	$(PYTEST) $(PYTEST_PARALLEL) -m "not slow" && \
	echo "make check: all passed in $$(( $$(date +%s) - start )) s"

test: $(INSTALLED) ## Run everything CI runs: ruff, library tests, assignments, nbval, both websites, the PDF, the browser checks
	@start=$$(date +%s); \
	$(RUFF) && \
	$(PYTEST) $(PYTEST_PARALLEL) && \
	$(NBVAL) && \
	$(MAKE) --no-print-directory book && \
	$(MAKE) --no-print-directory book-student && \
	{ if $(HAVE_TEX); then $(MAKE) --no-print-directory pdf; \
	  else echo "make test: no XeLaTeX/latexmk, the PDF is not built (its tests will say so)"; fi; } && \
	$(VPY) -m pytest -o addopts="" $(PYTEST_PARALLEL) $(BUILD_TESTS) $(BUILT_SITE_TESTS) && \
	echo "make test: all passed in $$(( $$(date +%s) - start )) s"

execute: $(INSTALLED) ## Re-execute the notebooks and store their outputs (after any change in src/)
	$(VPY) tools/execute_notebooks.py

# The capstone's loss comparisons: 6 loss settings x 3 seeds of the dense detector, two at a time,
# about 130 s of processor time each (so about 20 min on 2 quiet cores). The chapter displays the
# JSON; tests/test_detector_experiments.py re-runs one row of it.
experiments: $(INSTALLED) ## Re-run the dense detector's loss comparisons into book/detector_experiments.json (~20 min)
	$(VPY) -m lossbook experiment detector --seeds 0 1 2 --jobs 2 --output book/detector_experiments.json

# Every chapter, committed, run as on Colab: alone in a folder, in a new Python without lossbook,
# through its install cell (tools/fresh_python.py; make test runs one chapter so, in tests/test_fresh_python.py).
colab-check: $(INSTALLED) ## Run every chapter (as committed) as on Colab: a new Python, installed by the chapter's first cell
	$(VPY) tools/fresh_python.py

bench: $(INSTALLED) ## Time lossbook against naive NumPy (and PyTorch if installed); not part of test
	env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS $(VPY) tools/bench.py

# JupyterLab at the repository root, so that the chapters (book/) and the assignments
# (_build/assignments, from `make assignments`) are both reachable. Jupyter refuses to run as root
# (containers, Docker) unless told --allow-root. More options: make lab LAB_OPTIONS="--no-browser --port 8890".
ALLOW_ROOT = $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_OPTIONS ?=
lab: $(INSTALLED) ## Open JupyterLab at the repository root: chapters in book/, assignments in _build/assignments
	@echo "make lab: the chapters are in book/; the assignments (make assignments) in _build/assignments/"
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(ALLOW_ROOT) $(LAB_OPTIONS)

# make serve: the full website (make book); make serve SITE=student: the student website (make book-student).
SITE ?= full
PORT ?= 8000
SITE_DIR_full = _build/html
SITE_DIR_student = _build/student/_build/html
SITE_BUILD_full = book
SITE_BUILD_student = book-student
serve: ## Serve the built website at http://127.0.0.1:8000 (SITE=student: the student website; PORT=...)
	@test -n "$(SITE_DIR_$(SITE))" || { echo "make serve: SITE must be full or student; got '$(SITE)'"; exit 2; }
	@test -f $(SITE_DIR_$(SITE))/index.html || { \
		echo "make serve: no $(SITE) website in $(SITE_DIR_$(SITE)); build it first with: make $(SITE_BUILD_$(SITE))"; \
		exit 1; }
	@echo "make serve: the $(SITE) website ($(SITE_DIR_$(SITE))) at http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	$(PYTHON) -m http.server --bind 127.0.0.1 --directory $(SITE_DIR_$(SITE)) $(PORT)

clean: ## Remove all of _build: both websites, the PDF and the assignments (make book removes only its own)
	rm -rf _build
