# Mainstage VFX. The README's two commands:
#   make demo   - the main job on bundled defaults
#   make test   - the test suite
# Both create/update .venv and install what they need (Python packages and, with
# root or sudo, the Debian packages listed in .ci/install-system-deps).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
# Test workers: 2 matches the 2-core reference machine.
JOBS   ?= 2
OUT    ?= out

.PHONY: demo test install install-dev system-deps model bench addon compat clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Editable install of the project with all extras (torch, librosa, bpy, pytest ...).
$(VENV)/.stamp-dev: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[dev]'
	touch $@

# What the demo needs: the runtime, Blender and mir_eval (no torch).
$(VENV)/.stamp-demo: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[demo]'
	touch $@

# Benchmarks also run the anchor tools (madmom, essentia) and build the real-music corpus.
$(VENV)/.stamp-bench: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[dev,bench]'
	touch $@

install: $(VENV)/.stamp-demo
install-dev: $(VENV)/.stamp-dev

system-deps:
	@bash .ci/install-system-deps

test: system-deps install-dev
	$(PY) -m pytest -n $(JOBS) -p no:cacheprovider

demo: system-deps install
	$(VENV)/bin/mainstage demo --out $(OUT)/demo

# Re-train the bundled genre model from scratch on SynthHouse (2-core CPU, < 30 min):
# writes core/genre/models/default.onnx + default.json (with held-out metrics).
model: system-deps install-dev
	$(PY) -m mainstage.training.build_default --work $(OUT)/model --jobs $(JOBS)

# Installable Blender extension zips, one per platform (linux-x64, windows-x64, macos-arm64,
# macos-x64): add-on + vendored core + presets + model + that platform's wheels.
addon: install
	$(PY) tools/build_addon.py --out dist/

# The built extension in another Blender release (default 4.2 LTS: no slotted actions, older
# compositor API) through that release's bpy wheel in its own venv: install, load, Build
# Stage, Apply (keys on the beats), render, Clear. BPY_COMPAT=4.4.0 checks the first slotted release.
BPY_COMPAT ?= 4.2.23
compat: system-deps install
	$(PY) tools/build_addon.py --out $(OUT)/compat --platform linux-x64
	test -x .venv-bpy$(BPY_COMPAT)/bin/python || $(PYTHON) -m venv .venv-bpy$(BPY_COMPAT)
	.venv-bpy$(BPY_COMPAT)/bin/python -m pip --disable-pip-version-check install -q "bpy==$(BPY_COMPAT)" "numpy<2"
	$(VENV)/bin/mainstage synth --genre "Bass House" --seed 3 -o $(OUT)/compat/track.wav
	$(VENV)/bin/mainstage analyze $(OUT)/compat/track.wav -o $(OUT)/compat/track.timeline.json
	.venv-bpy$(BPY_COMPAT)/bin/python tools/blender_compat.py --zip $$(ls -t $(OUT)/compat/mainstage_vfx-*-linux_x64.zip | head -1) \
		--timeline $(OUT)/compat/track.timeline.json --out $(OUT)/compat/render

bench: $(VENV)/.stamp-bench
	@bash .ci/install-system-deps --bench
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(OUT) build dist *.egg-info .pytest_cache
