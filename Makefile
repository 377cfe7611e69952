# One-command set-up: `make demo` runs the main job, `make test` the static checks, the wheel check and the test suite.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# torch/torchvision are pinned here (not in pyproject) to the builds this
# machine serves from disk; the package itself accepts any torch>=2.2.
TORCH_PIN ?= torch==2.14.1 torchvision==0.29.1

.PHONY: venv demo examples lint wheel-check test test-all bench clean

$(BIN)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/.installed

demo: venv
	$(BIN)/python -m i2icli.cli.demo

# The README's demo picture: `make demo`, then keep its grid.
examples: demo
	cp demo/demo_grid.png examples/demo_grid.png

# Static checks (config in pyproject.toml): ruff lints the whole tree, mypy type-checks the package.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy i2icli

# Build the wheel, install it non-editable into a scratch venv, run the CLI outside the checkout.
wheel-check: venv
	VENV=$(VENV) bash .ci/wheel_check.sh

test: lint wheel-check
	$(BIN)/python -m pytest -q -m "not slow and not weights"

test-all: venv
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs build *.egg-info
