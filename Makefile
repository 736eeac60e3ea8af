# One-command set-up without a ROS install: a venv with the ROS 2 Kilted wheels, the package,
# the real models. `make demo` runs the whole story; `make test` runs the tests. Every target
# is idempotent: a second run does only what changed.

PYTHON ?= python3
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp
REQUIREMENTS := requirements/runtime.txt requirements/models.txt requirements/test.txt
PACKAGE_FILES := setup.py setup.cfg package.xml $(wildcard resource/* scripts/* \
	jetson_classifier/*.py jetson_classifier/*/*.py jetson_classifier/*/*/*.py launch/*.py config/*.* config/*/*.yaml)

# Everything started from here finds the venv's ROS packages, keeps DDS traffic on this host
# and gives camera-sized messages a large shared-memory segment (config/fastdds_camera_profile.xml;
# Fast DDS 3 reads FASTDDS_DEFAULT_PROFILES_FILE, Humble's 2.x FASTRTPS_DEFAULT_PROFILES_FILE).
export AMENT_PREFIX_PATH := $(VENV)
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export FASTDDS_DEFAULT_PROFILES_FILE := $(CURDIR)/config/fastdds_camera_profile.xml
export PATH := $(VENV)/bin:$(PATH)
export PYTHONUNBUFFERED := 1

.PHONY: setup models demo test lint benchmark clean


setup: $(STAMP)-package $(STAMP)-vision-msgs

$(STAMP)-venv:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	touch $@

$(STAMP)-requirements: $(STAMP)-venv $(REQUIREMENTS) requirements/constraints.txt
	$(PY) -m pip install --quiet -c requirements/constraints.txt \
		$(addprefix -r ,$(REQUIREMENTS))
	touch $@

# Test-only vision_msgs interfaces (no wheel exists); on a robot the real package is used.
$(STAMP)-vision-msgs: $(STAMP)-requirements tools/build_vision_msgs_stand_in.sh \
		$(wildcard test/vision_msgs_stand_in/*.* test/vision_msgs_stand_in/msg/*)
	bash tools/build_vision_msgs_stand_in.sh $(VENV)
	touch $@

$(STAMP)-package: $(STAMP)-requirements $(PACKAGE_FILES)
	$(PY) -m pip install --quiet --no-deps --force-reinstall .
	touch $@

models: setup
	prepare_models

demo: models
	$(PY) -m jetson_classifier.commands.demo

test: models
	$(PY) -m pytest -q test

# The ImageNet sample set for accuracy, where this checkout has it beside it.
SAMPLE_DIR ?= $(abspath $(CURDIR)/../shared/datasets/imagenet-1k-sample)

benchmark: models
	benchmark $(if $(wildcard $(SAMPLE_DIR)),--dataset $(SAMPLE_DIR)) \
		--class-groups config/groups/imagenet_coarse.yaml --output docs/benchmark

lint: setup
	$(PY) -m pytest -q test/test_flake8.py test/test_pep257.py

clean:
	rm -rf $(VENV) build *.egg-info
