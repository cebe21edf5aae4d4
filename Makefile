# The two commands of the README: `make run` (the whole product, live) and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test bootstrap lint bench clean

run: bootstrap
	$(BIN)/flowsight up

# PYTEST_ARGS go to pytest after the defaults, e.g. `make test PYTEST_ARGS="-k pressure -n 0"`.
test: bootstrap
	VENV=$(VENV) deploy/test.sh $(PYTEST_ARGS)

bootstrap: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml deploy/bootstrap.sh
	VENV=$(VENV) deploy/bootstrap.sh
	touch $@

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
