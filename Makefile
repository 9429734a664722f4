# Two commands for a fresh machine: `make serve` and `make test`.
# Each creates .venv and installs what is missing (re-installs when pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# sentence-transformers needs torch; pin the CPU build so pip never pulls a multi-GB CUDA
# build. Override on machines where another wheel fits: make TORCH_SPEC='torch==2.x.y' test
TORCH_SPEC ?= torch==2.13.0

export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# The eval report test renders report.html in headless Chromium (Debian's package).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: serve test test-fast bench lint clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/persona serve

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e and not browser"

chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium (headless report test)"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check gateway prompts embeddings guardrails evals tests benchmarks
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
