# From Noise to Pictures: the two commands.
#   make book   build the book (creates .venv, installs the pinned set, executes every chapter)
#   make test   run the tests (ruff, the import contracts, unit tests, smoke runs of every
#               chapter + nbval, book build; the smoke runs again under another CPU's
#               kernels, their numbers checked)
#   make check-book   after make book: the full book's recorded numbers against tests/expected
#   make drift        the chapters under several CPU kernel sets: how far each number moves

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SMOKE  := _build/smoke

.PHONY: book test check-book drift install browser lint unit notebooks nbval smoke-book benchmark clean

install: $(STAMP)

$(STAMP): requirements/pinned.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/pinned.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "The book is in _build/html/index.html"

# The browser tests drive Debian's chromium (Playwright cannot download a browser here).
# As root with apt-get (CI, a fresh container) it is installed; elsewhere the tests say how.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the browser tests (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "no chromium: the browser tests will be skipped (sudo apt-get install chromium)"; \
	  fi; }

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m noise2image.runner --profile smoke --out $(SMOKE)
	$(BIN)/python -m tools.kernels run --profile smoke --sets other
	$(BIN)/python -m pytest tests $(SMOKE)/notebooks --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg

check-book: $(STAMP)
	$(BIN)/python -m tools.expected check _build/jupyter_execute/notebooks --profile full

# The second-CPU check: every chapter under this CPU's kernels and under emulated older
# ones (ATen, oneDNN, MKL), each number's drift measured and written into tests/expected.
# PROFILE=full takes about an hour per kernel set.
PROFILE ?= smoke
SETS    ?= native avx2 default
drift: $(STAMP)
	$(BIN)/python -m tools.kernels run --profile $(PROFILE) --sets $(SETS)
	$(BIN)/python -m tools.kernels drift --profile $(PROFILE) --sets $(SETS)

benchmark: $(STAMP)
	$(BIN)/python benchmarks/time_notebooks.py

clean:
	rm -rf _build
