# Every target creates .venv from requirements.txt first; nothing is installed globally.
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast bench lint clean

$(STAMP): requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/streamlit run app.py --server.port 8501

test: $(STAMP)
	$(PYTHON) -m pytest

test-fast: $(STAMP)
	$(PYTHON) -m pytest -m "not browser"

bench: $(STAMP)
	$(PYTHON) -m bench

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
