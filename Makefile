# sentiment-rnn: every command a user or CI needs. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
DATA_DIR ?= ../shared/data
HOST ?= 127.0.0.1
PORT ?= 8000
export SENTIMENT_DATA_DIR ?= $(abspath $(DATA_DIR))

.PHONY: help serve test test-fast lint train evaluate ablations pooled heldout bench ab stages peers cli-bench memory faults fuzz screenshots container-smoke clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.runtime: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	touch $@

serve: $(VENV)/.runtime  ## install and serve the shipped model on http://$(HOST):$(PORT)
	SENTIMENT_HOST=$(HOST) SENTIMENT_PORT=$(PORT) $(PY) -m service

CODE := model service tests bench research

lint: $(VENV)/.dev  ## ruff (lint and format) and mypy --strict
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/ruff format --check $(CODE)
	$(VENV)/bin/mypy

test-fast: $(VENV)/.dev  ## the unit tier while you edit: no data, no server (under a minute)
	$(VENV)/bin/pytest tests/unit -q

test: lint  ## install dev extras; lint, type-check and run every tier (unit, integration, system): what CI runs
	$(VENV)/bin/pytest -n auto --dist loadfile  # a file's tests share one worker and its module fixtures

LANG_ ?= en

train: $(VENV)/.dev  ## train a shipped checkpoint from its recipe, model/recipes/$(LANG_).toml (times: docs/training.md)
	$(PY) -m model.train --lang $(LANG_) --data-dir $(SENTIMENT_DATA_DIR)

evaluate: $(VENV)/.dev  ## evaluate a shipped checkpoint (LANG_=en|zh); rewrite its model card and plot
	$(PY) -m model.evaluate --lang $(LANG_) --data-dir $(SENTIMENT_DATA_DIR)

KEEP ?= ablation-checkpoints

ablations: $(VENV)/.dev  ## train every row of research/ablations.$(LANG_).toml (slow: one run each); keeps checkpoints in KEEP
	$(PY) -m research.ablations --lang $(LANG_) --data-dir $(SENTIMENT_DATA_DIR) --run --keep $(KEEP)/$(LANG_)

pooled: $(VENV)/.dev  ## the shipped checkpoint and every kept ablation checkpoint pooled into one ensemble (after make ablations)
	$(PY) -m research.pooled $$($(PY) -c 'from model.languages import language; print(language("$(LANG_)").checkpoint_path)') \
		$$(ls $(KEEP)/$(LANG_)/row-*.pt | sort -V) --data-dir $(SENTIMENT_DATA_DIR) --out research/results/POOLED.$(LANG_).md

heldout: $(VENV)/.dev  ## compositions with held-out words: two one-member English runs (after make ablations for row 52)
	$(PY) -m research.heldout --data-dir $(SENTIMENT_DATA_DIR) --run held-out --keep $(KEEP)/heldout & \
	$(PY) -m research.heldout --data-dir $(SENTIMENT_DATA_DIR) --run none --keep $(KEEP)/heldout; wait
	cp $(KEEP)/en/row-52.pt $(KEEP)/heldout/all.pt
	for r in all held-out none; do $(PY) -m model.document $(KEEP)/heldout/$$r.pt --data-dir $(SENTIMENT_DATA_DIR) & done; wait
	$(PY) -m research.heldout --checkpoint $(foreach r,all held-out none,$(r)=$(KEEP)/heldout/$(r).pt)

bench: $(VENV)/.dev  ## side-by-side benchmark (needs wrk: apt-get install wrk); writes bench/RESULTS.md
	$(PY) -m bench.run

REV ?= HEAD~1
ab: $(VENV)/.dev  ## this checkout's service next to commit REV's, same run (needs wrk): make ab REV=HEAD~1
	$(PY) -m bench.ab $(REV)

stages: $(VENV)/.dev  ## where a /predict request's time goes, stage by stage (needs wrk); writes bench/STAGES.md
	$(PY) -m bench.stages

PEERS_VENV ?= .venv-peers

# The peers get their own environment: bentoml's opentelemetry-instrumentation pins exclude the otel
# extra's, so the constraints go in without their opentelemetry lines.
$(PEERS_VENV)/.peers: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	grep -v -i opentelemetry constraints.txt > $(PEERS_VENV)/constraints-peers.txt
	$(PEERS_VENV)/bin/python -m pip install -q -c $(PEERS_VENV)/constraints-peers.txt -e '.[peers]'
	touch $@

peers: $(PEERS_VENV)/.peers  ## the same checkpoint served by naive FastAPI, LitServe, BentoML and this service (needs wrk); writes bench/PEERS.md
	$(PEERS_VENV)/bin/python -m bench.peers

memory: $(VENV)/.dev  ## resident and peak memory after each model-loading step (bench/memory.py)
	$(PY) -m bench.memory

cli-bench: $(VENV)/.dev  ## sentiment-rnn predict on 100,000 lines next to /predict/batch (needs wrk); writes bench/CLI.md
	$(PY) -m bench.cli

faults: $(VENV)/.dev  ## replica killed / rolling restart behind nginx, slow clients, soak, hostile text (~15 min; needs wrk, nginx; FAULTS_SOAK_S=600); writes bench/FAULTS.md
	$(PY) -m bench.faults

fuzz: $(VENV)/.dev  ## schemathesis against a real server, many examples (FUZZ_EXAMPLES=1000); writes bench/FUZZ.md
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-1000} FUZZ_REPORT=bench/FUZZ.md $(VENV)/bin/pytest tests/system/test_fuzz.py -v

screenshots: $(VENV)/.dev  ## docs/screenshots: the playground in headless Chromium on the shipped models (needs chromium, chromium-driver, a CJK font: fonts-wqy-microhei)
	UPDATE_SCREENSHOTS=1 $(VENV)/bin/pytest -q tests/system/test_playground.py -k screenshots

container-smoke:  ## build the image; check it with docker run, docker-compose and 2 replicas (Docker or podman)
	scripts/container_smoke.sh

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
