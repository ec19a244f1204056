# Two commands for a newcomer: `make demo` runs the main job, `make test` runs the tests.
# Both create the virtual environment and install the project on first use.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test check

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,libp2p]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/nodesnap demo

test: $(VENV)/.installed
	$(PY) -m pytest -q

check: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict
