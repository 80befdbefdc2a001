# Two commands matter: `make repro` (set up, then run the pipeline) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
DATASET_DIR := /usr/share/datasets/fashion-mnist
PORT ?= 5000

export PATH := $(BIN):$(PATH)
export MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/mlflow.db
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup repro test lint ui dataset browser flow audit serve clean help exps plots

help:
	@echo "make repro  - set up, run the whole pipeline (dvc repro) on Fashion-MNIST, then the promotion gate"
	@echo "make test   - set up, then lint and run the whole test suite"
	@echo "make ui     - MLflow UI on the project's tracking store (http://127.0.0.1:$(PORT))"
	@echo "make exps   - the DVC experiments side by side: the metrics and params that differ"
	@echo "make plots  - dvc plots show: dvc_plots/index.html (drawn without network too)"
	@echo "make flow   - the pipeline as a Prefect flow (MLflow parent run, promotion gate)"
	@echo "make audit  - audit the champion (MODEL=path-or-models:/-URI to audit another)"
	@echo "make serve  - serve the weekly training and nightly audit deployments (needs PREFECT_API_URL)"

setup: $(VENV)/.installed dataset

# The virtual environment, from the one lock file shared with .ci/run and the Dockerfile.
$(VENV)/.installed: requirements.lock pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || { \
	  echo "$(PYTHON) with venv is required: sudo apt-get install python3.11 python3.11-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# Install a Debian package as root, or through sudo, or say how ($(1): package, $(2): why).
apt_install = if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && apt-get install -y -qq $(1); \
	elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then \
	  sudo apt-get update -qq && sudo apt-get install -y -qq $(1); \
	else \
	  echo "$(1) is missing: $(2)"; exit 1; \
	fi

# The default dataset: Debian's dataset-fashion-mnist (IDX files in $(DATASET_DIR)).
dataset:
	@if [ -f $(DATASET_DIR)/train-images-idx3-ubyte.gz ]; then exit 0; fi; \
	$(call apt_install,dataset-fashion-mnist,install the Debian package or download the four IDX .gz files of Fashion-MNIST (GitHub zalandoresearch/fashion-mnist; data/fashion) into a folder and set data.root to it in params.yaml)

# Headless Chromium: the end-to-end test opens the HTML report in it (Debian package chromium).
browser:
	@if command -v chromium >/dev/null; then exit 0; fi; \
	$(call apt_install,chromium,install the Debian package chromium (the report test opens the report in it))

# After the pipeline, the promotion gate (as `make flow` runs it): the export's @candidate
# becomes @champion when its checks pass, so that `make audit` finds a champion.
repro: setup
	dvc repro
	python -m pipeline promote

# `dvc exp show` has a column per param (~300) and per dependency: keep those that differ between
# the experiments, drop the dependencies' hashes (code, data, models; not the summary metrics). In a
# terminal DVC pages the table with `less -RS` at its full width (scroll sideways); with --no-pager or
# piped it squeezes the columns to the terminal's width, which turns wide tables into '…'.
exps: $(VENV)/.installed
	dvc exp show --only-changed --drop '^(audit|data|models|netinv|outputs|plots|stages)/|^metrics/[^:]*$$'

plots: $(VENV)/.installed
	dvc plots show

flow: setup
	python -m pipeline train

audit: $(VENV)/.installed
	python -m pipeline audit $(MODEL)

serve: $(VENV)/.installed
	python -m pipeline serve

lint: $(VENV)/.installed
	ruff check .
	hadolint Dockerfile

test: setup browser lint
	python -m pytest

ui: $(VENV)/.installed
	mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host 127.0.0.1 --port $(PORT) --workers 1

clean:
	rm -rf $(VENV) mlflow.db mlruns
