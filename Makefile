# lowlight: every target creates .venv (and installs into it) when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: install train test test-full lint format bench bench-gpu bench-sr bench-sr-select chaos clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job: the LLE GAN on the embedded synthetic low-light pairs (< 10 min on 2 CPU cores).
train: $(STAMP)
	$(PY) -m lowlight.train +experiment=lle_gan $(ARGS)

## Fast suite (slow tests excluded); real-data tests skip when ../shared/data is absent.
test: $(STAMP)
	$(PY) -m pytest -m "not slow" $(ARGS)

## Everything, slow tests included.
test-full: $(STAMP)
	$(PY) -m pytest $(ARGS)

## Start-up (--help of every command), tiling (time, memory), SSIM cost, LOL training
## throughput (fp32 / bf16), then the summary table: training step, data supply,
## channels-last, Zero-DCE speed, memory, scoring share; ratios side by side (~15 min).
bench: $(STAMP)
	$(PY) benchmarks/startup.py
	$(PY) benchmarks/lol_throughput.py
	$(PY) benchmarks/tiling.py $(ARGS)
	$(PY) benchmarks/scoring.py --pairs 0
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/models.py

## GPU throughput: training img/s per experiment (fp32 / bf16 / compiled), inference MP/s.
bench-gpu: $(STAMP)
	$(PY) benchmarks/gpu.py $(ARGS)

## How bench-sr's setting was chosen: trials compared on a SunHays80 validation split (~45 min).
bench-sr-select: $(STAMP)
	$(PY) benchmarks/sr_select.py $(ARGS)

## SR proof: esrgan_psnr x4 on SunHays80, Set5 x4 Y-PSNR vs bicubic (~25 min on 2 CPU cores).
bench-sr: $(STAMP)
	$(PY) benchmarks/sr_learns.py $(ARGS)

## Reliability matrix: kill-and-resume parity, DDP, same-second runs, hostile files, bad input (~5 min).
chaos: $(STAMP)
	$(PY) benchmarks/chaos.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
