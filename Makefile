# copgen_plugin: every entry point an analyst, a developer or CI uses.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PLUGIN := copgen_plugin

.PHONY: setup setup-runtime test lint package demo models templates screenshots clean

setup:            ## QGIS (apt), .venv and pinned dev + runtime requirements; idempotent
	bash scripts/setup.sh

setup-runtime:    ## the same without the dev/export requirements (torch, pytest, ruff)
	bash scripts/setup.sh --no-dev

test: setup       ## the whole suite, QGIS included
	bash scripts/run_tests.sh

lint: setup       ## ruff, and mypy on the layers that carry the product's decisions
	$(VENV)/bin/ruff check .
	$(PY) -m mypy --ignore-missing-imports $(PLUGIN)/engine $(PLUGIN)/geo $(PLUGIN)/fill \
	  $(PLUGIN)/processing $(PLUGIN)/scale $(PLUGIN)/install

package: setup    ## the installable plugin ZIP in dist/
	$(PY) scripts/package.py --out dist

models: setup     ## fetch COP-GEN base from the hub and export it (needs internet)
	$(PY) -m models.fetch copgen-base --out packages/copgen-base

templates: setup  ## resources/templates/copgen-base: weightless graphs the plugin fills (torch)
	$(PY) -m models.templates --config base --out resources/templates/copgen-base

demo: setup
	bash scripts/demo.sh

clean:
	rm -rf build dist .pytest_cache

screenshots: setup ## docs/images/*.png: QGIS desktop under Xvfb (runs the demo first if needed)
	bash scripts/screenshots.sh
