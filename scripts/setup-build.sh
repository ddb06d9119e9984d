#!/usr/bin/env bash
# Build tools the Rust build needs besides Rust: a C compiler and CMake build libjpeg-turbo
# (the JPEG decoder, from the turbojpeg-sys crate's bundled source), and NASM gives it its
# SIMD code — without NASM it still builds, about half as fast at decoding.
# Idempotent; installing needs root (apt-get). Usage: bash scripts/setup-build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/apt.sh
want=()
command -v cc >/dev/null || want+=(gcc libc6-dev)
command -v cmake >/dev/null || want+=(cmake)
command -v nasm >/dev/null || want+=(nasm)
((${#want[@]} == 0)) || apt_install "${want[@]}"
