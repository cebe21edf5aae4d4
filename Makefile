# The two commands of the README: `make run` (the whole product, live) and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test bootstrap lint bench clean

run: bootstrap
	$(BIN)/flowsight up

test: bootstrap
	deploy/test.sh

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
