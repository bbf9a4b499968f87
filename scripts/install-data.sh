#!/usr/bin/env bash
# What the project needs from Debian, installed where missing: the Fashion-MNIST data set of
# `./lars4j train` and of its tests. Run by ./lars4j train and by the tool module's build (so
# `mvn -B test` installs it too). Without root it can only say what to install: with
# --if-possible that is a warning (the tests that need the data then skip, saying why), otherwise
# an error.
set -euo pipefail
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "lars4j: Fashion-MNIST is missing: run 'sudo apt-get install dataset-fashion-mnist' (or pass --data DIR)" >&2
    [ "${1:-}" = --if-possible ] && exit 0
    exit 1
  fi
  echo "lars4j: installing Debian's dataset-fashion-mnist..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null; }
fi
