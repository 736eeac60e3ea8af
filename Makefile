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

.PHONY: setup models demo test test-jazzy test-floor lint benchmark clean


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

# The tests that import ROS (rclpy, messages, or a test helper that does): the Jazzy lane runs
# these, the floor lane every other one but those that make models (torch) and the linters.
ROS_HELPERS := ros_processes|classifier_testing|switcher_testing|lifecycle_launching
ROS_PACKAGES := rclpy|rcl_interfaces|sensor_msgs|std_msgs|diagnostic_msgs|lifecycle_msgs
ROS_TESTS := $(shell grep -l -E \
	'^(from|import) ($(ROS_PACKAGES)|$(ROS_HELPERS)|launch_file_reader)\b|importorskip..(rclpy|vision_msgs)' \
	test/test_*.py)
MODEL_MAKING_TESTS := test/test_finetune.py test/test_engine_tools.py test/test_tensorrt_backend.py
LINT_TESTS := test/test_flake8.py test/test_pep257.py
# Where the main venv's models are (JETSON_CLASSIFIER_MODEL_DIR or the user cache).
MODEL_DIR = $(shell $(PY) -c 'from jetson_classifier.inference.catalog import Catalog; \
	print(Catalog.load().model_dir)')

# A second ROS distribution: ROS 2 Jazzy's wheels on Python 3.12 (Jazzy's, on Ubuntu 24.04)
# with the vision_msgs stand-in built for them, and a sourced Jazzy's ROS_DISTRO.
JAZZY_PYTHON ?= $(firstword $(wildcard /root/.pyenv/versions/3.12.*/bin/python) python3.12)
JAZZY_VENV := $(CURDIR)/.venv-jazzy

$(JAZZY_VENV)/.stamp-requirements: requirements/jazzy.txt requirements/runtime.txt \
		requirements/constraints-jazzy.txt
	$(JAZZY_PYTHON) -m venv $(JAZZY_VENV)
	$(JAZZY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(JAZZY_VENV)/bin/python -m pip install --quiet -c requirements/constraints-jazzy.txt \
		-r requirements/jazzy.txt
	touch $@

$(JAZZY_VENV)/.stamp-vision-msgs: $(JAZZY_VENV)/.stamp-requirements \
		tools/build_vision_msgs_stand_in.sh \
		$(wildcard test/vision_msgs_stand_in/*.* test/vision_msgs_stand_in/msg/*)
	env -u _ROS_WHEELS_BOOTSTRAP_COMPLETE PATH=$(JAZZY_VENV)/bin:$(PATH) \
		bash tools/build_vision_msgs_stand_in.sh $(JAZZY_VENV)
	touch $@

$(JAZZY_VENV)/.stamp-package: $(JAZZY_VENV)/.stamp-requirements $(PACKAGE_FILES)
	$(JAZZY_VENV)/bin/python -m pip install --quiet --no-deps --force-reinstall .
	touch $@

test-jazzy: models $(JAZZY_VENV)/.stamp-package $(JAZZY_VENV)/.stamp-vision-msgs
	env -u _ROS_WHEELS_BOOTSTRAP_COMPLETE -u FASTDDS_DEFAULT_PROFILES_FILE ROS_DISTRO=jazzy \
		FASTRTPS_DEFAULT_PROFILES_FILE=$(CURDIR)/config/fastdds_camera_profile.xml \
		AMENT_PREFIX_PATH=$(JAZZY_VENV) PATH=$(JAZZY_VENV)/bin:$(PATH) \
		$(JAZZY_VENV)/bin/python -m pytest -q $(ROS_TESTS)

# The JetPack 6 floor: Python 3.10 with the oldest versions we support (requirements/
# floor.txt), no ROS and no torch, the package installed as on a robot, the models the main
# venv made copied as a robot user copies them. Their answers must match the main venv's.
FLOOR_PYTHON ?= $(firstword $(wildcard /root/.pyenv/versions/3.10.*/bin/python) python3.10)
FLOOR_VENV := $(CURDIR)/.venv-floor
FLOOR_MODELS := $(CURDIR)/.floor-models
FLOOR_TESTS = $(filter-out $(ROS_TESTS) $(MODEL_MAKING_TESTS) $(LINT_TESTS), \
	$(wildcard test/test_*.py))

$(FLOOR_VENV)/.stamp-requirements: requirements/floor.txt requirements/constraints-floor.txt
	$(FLOOR_PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FLOOR_VENV)/bin/python -m pip install --quiet -c requirements/constraints-floor.txt \
		-r requirements/floor.txt
	touch $@

$(FLOOR_VENV)/.stamp-package: $(FLOOR_VENV)/.stamp-requirements $(PACKAGE_FILES)
	$(FLOOR_VENV)/bin/python -m pip install --quiet --no-deps --force-reinstall .
	touch $@

# pytest's own script, not `python -m pytest`, so that the installed package is tested.
test-floor: models $(FLOOR_VENV)/.stamp-package
	rm -rf $(FLOOR_MODELS) && mkdir -p $(FLOOR_MODELS)
	cp $(MODEL_DIR)/*.onnx $(FLOOR_MODELS)/
	$(PY) test/catalog_top1.py --write $(FLOOR_MODELS)/top1-main.json
	env JETSON_CLASSIFIER_MODEL_DIR=$(FLOOR_MODELS) AMENT_PREFIX_PATH=$(FLOOR_VENV) \
		JETSON_CLASSIFIER_REFERENCE_TOP1=$(FLOOR_MODELS)/top1-main.json \
		PATH=$(FLOOR_VENV)/bin:$(PATH) $(FLOOR_VENV)/bin/pytest -q $(FLOOR_TESTS)

clean:
	rm -rf $(VENV) $(JAZZY_VENV) $(FLOOR_VENV) $(FLOOR_MODELS) build *.egg-info
