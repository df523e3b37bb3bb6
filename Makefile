# Gongshi: `make build` builds the demo site, `make test` runs every test.
# Both work on a fresh Debian machine with only Python 3.11+: they create .venv, install
# what is needed (Debian packages too, for the browser tests), then run.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT    := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get
# Debian packages the tests drive: the browser (never a downloaded one), CJK fonts so pages
# and PDFs render Chinese text, and poppler to read printed posters back.
TEST_DEBS := chromium fonts-noto-cjk poppler-utils
# Java runs the W3C Nu HTML checker and npm installs the checkers below: Debian's, only where
# the machine has none.
TEST_TOOL_DEBS = $(if $(shell command -v java),,default-jre-headless) $(if $(shell command -v npm),,npm)
# The checkers the tests run, pinned with their hashes in tests/npm/package-lock.json: axe-core
# (accessibility rules, injected into Chromium) and vnu-jar (the W3C Nu HTML checker). No install
# scripts: vnu-jar's would download a Java of its own; Debian's runs it.
NPM_TOOLS := tests/npm/node_modules/.installed
# The benchmark builds the same pages with Hugo, side by side.
BENCH_DEBS := hugo

.PHONY: build test bench screenshots serve clean install system-deps debs

build: $(VENV)/.installed
	$(BIN)/gongshi build $(if $(TODAY),--today $(TODAY))

test: $(VENV)/.installed-test system-deps $(NPM_TOOLS)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test system-deps
	@$(MAKE) --no-print-directory debs DEBS="$(BENCH_DEBS)"
	$(BIN)/python bench/run.py

# The README's phone-width pictures (docs/screenshots/*.png), from the demo build in Chromium.
screenshots: $(VENV)/.installed-test system-deps
	$(BIN)/python scripts/screenshots.py

serve: $(VENV)/.installed
	$(BIN)/gongshi serve

install: $(VENV)/.installed

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed; installing Debian's python3-venv"; \
	  rm -rf $(VENV); $(APT) update -qq && $(APT) install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(VENV)/.installed $@

system-deps:
	@$(MAKE) --no-print-directory debs DEBS="$(TEST_DEBS) $(TEST_TOOL_DEBS)"

$(NPM_TOOLS): tests/npm/package.json tests/npm/package-lock.json | system-deps
	cd tests/npm && npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

# Install the Debian packages in DEBS that are missing (as root, or with sudo).
debs:
	@missing=""; for deb in $(DEBS); do dpkg -s $$deb >/dev/null 2>&1 || missing="$$missing $$deb"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(APT) update -qq && $(APT) install -y -qq --no-install-recommends $$missing; \
	fi

clean:
	rm -rf build .gongshi-cache
