# mmcourse — every set-up step a learner, instructor or CI needs.
#   make lab      first run: create .venv and install the course; then open JupyterLab
#   make test     the same bootstrap, then lint, exercise drift check, unit tests, every notebook
#                 (on PYTEST_WORKERS=2 parallel workers; make test PYTEST_WORKERS=0 runs serially)
#   make execute  re-execute the lesson notebooks in place (committed outputs stay fresh)
#   make assign   regenerate exercises/ from solutions/
#   make bench    run the benchmarks, results into benchmarks/results/
#   make book     build the course website into _build/html (notebooks shown as committed)
#   make clean    remove caches and build artefacts (make distclean also removes .venv)
# Nothing is registered globally: the kernel, jupyter and pytest all come from .venv.
# An existing environment without the install step: make -o STAMPFILE test STAMP=STAMPFILE BIN=...
# (-o marks the stamp as up to date; STAMP alone would re-run the install into that BIN).

comma  := ,
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Extras installed with the course: "dev" (tests, lint); the GPU CI leg uses EXTRAS=dev,gpu.
EXTRAS ?= dev
STAMP  := $(VENV)/.mmcourse-installed-$(subst $(comma),-,$(EXTRAS))
# Seconds one notebook cell may run under nbval / nbconvert before it is failed.
CELL_TIMEOUT ?= 600
# pytest-xdist workers for make unit / make notebooks (0: serial, in one process). Scheduling is
# --dist loadscope: each test module (and each notebook: nbval runs all its cells in order on one
# kernel) stays on one worker, so module-scoped fixtures are made once.
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) $(if $(filter 0,$(PYTEST_WORKERS)),,--dist loadscope)
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers and CI often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

# make book: BOOK_REPOSITORY_URL (https) is the repository the launch buttons open (empty: the
# Repository URL of pyproject.toml); BOOK_ARGS=--no-solutions publishes the exercises only.
BOOK_REPOSITORY_URL ?=
BOOK_BRANCH ?= main
BOOK_ARGS ?=

export PYTHONHASHSEED ?= 0

.PHONY: lab test lint unit notebooks check-exercises assign execute bench clean distclean install book

install: $(STAMP)

# The install is redone only when pyproject.toml changes (or the venv is missing): later runs of
# make lab / make test start at once.
$(STAMP): pyproject.toml scripts/install_os_packages.sh
	bash scripts/install_os_packages.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" notebooks/00_welcome.ipynb $(ROOT_FLAG) $(LAB_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

check-exercises: $(STAMP)
	$(BIN)/python -m mmcourse assign --check

# --durations=30: CI's log names the slowest tests (and fixtures), so the next speed-up is in sight.
unit: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) --durations=30 tests

notebooks: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) --nbval-lax --nbval-cell-timeout=$(CELL_TIMEOUT) \
		-p no:cacheprovider notebooks solutions

test: lint check-exercises unit notebooks

assign: $(STAMP)
	$(BIN)/python -m mmcourse assign

execute: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=$(CELL_TIMEOUT) notebooks/*.ipynb

bench: $(STAMP)
	$(BIN)/python -m benchmarks

book: $(STAMP)
	$(BIN)/python scripts/build_book.py --branch "$(BOOK_BRANCH)" \
		$(if $(BOOK_REPOSITORY_URL),--repository-url "$(BOOK_REPOSITORY_URL)") $(BOOK_ARGS)

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .ipynb_checkpoints \
		notebooks/.ipynb_checkpoints solutions/.ipynb_checkpoints exercises/.ipynb_checkpoints
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -print -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
