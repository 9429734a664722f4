# Two commands for a fresh machine: `make serve` and `make test`.
# Each creates .venv and installs what is missing (re-installs when pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# sentence-transformers needs torch; pin the CPU build so pip never pulls a multi-GB CUDA
# build. Override on machines where another wheel fits: make TORCH_SPEC='torch==2.x.y' test
TORCH_SPEC ?= torch==2.13.0
# llama-cpp-python builds from source. Its default (-march=native) compiles in every
# instruction set the CPU advertises, and these VMs advertise AMX that traps when used
# (SIGILL in tileloadd on any prompt past a few dozen tokens). Build once for an AVX2
# baseline, which every machine of this kind runs, and keep that wheel apart from pip's
# cache so a native build cached there is never picked up again.
LLAMA_SPEC   ?= llama-cpp-python==0.3.36
LLAMA_CMAKE  ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
                -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_WHEELS ?= $(HOME)/.cache/persona-gateway/llama-avx2

export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# The eval report test renders report.html in headless Chromium (Debian's package); the
# fleet tests start a throwaway Debian redis-server on a loopback port.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: serve test test-fast bench lint clean chromium redis fleet

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || { \
		echo "building $(LLAMA_SPEC) for AVX2 (once per machine, ~5 min)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/python -m pip wheel --quiet --disable-pip-version-check \
			--no-deps --no-cache-dir --no-binary llama-cpp-python -w $(LLAMA_WHEELS) "$(LLAMA_SPEC)"; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
		$(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,evals]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/persona serve

test: $(STAMP) chromium redis
	$(BIN)/python -m pytest -q

test-fast: $(STAMP) redis
	$(BIN)/python -m pytest -q -m "not e2e and not browser"

chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium (headless report test)"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

redis:
	@command -v redis-server >/dev/null || { echo "installing Debian's redis-server (fleet tests)"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# The scale-out path on one machine: embedded PostgreSQL + redis-server + 2 replicas on
# 8081 and 8082 (benchmarks/fleet.py; README "Scaling out"). Ctrl-C stops all of it.
fleet: $(STAMP) redis
	$(BIN)/python benchmarks/fleet.py --replicas 2 --port 8081

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check gateway prompts embeddings guardrails evals tests benchmarks
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
