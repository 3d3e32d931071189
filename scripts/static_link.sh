#!/usr/bin/env bash
# Linker launcher of the autoscale-adapter binary when AA_STATIC_LINK is on (CMake's CXX_LINKER_LAUNCHER,
# src/app/CMakeLists.txt): runs the link command it is given ("$@") with gRPC, protobuf, Abseil, RE2,
# c-ares and yaml-cpp taken from their static archives (Debian's -dev packages ship both) instead of
# their shared libraries. The binary then maps only the objects of those libraries it uses, and the
# dynamic loader no longer maps and relocates ~60 more libraries at start: about 4.5 MiB less resident
# memory, idle and full (bench/memory_bench; the figures are in the README). Only this one link is changed: CMake's imported targets, and so every
# test and tool, stay as they are.
# Libraries without a static archive in Debian (cpp-httplib, prometheus-cpp, simdjson), OpenSSL (which
# libcpp-httplib.so loads anyway: two copies of it in one process would not share their state), and the
# C and C++ runtimes stay shared.
set -euo pipefail

static='^lib(absl_.*|grpc.*|gpr|upb|address_sorting|protobuf|re2|cares|yaml-cpp)$'
compiler=$1
args=()
lib_dirs=()
replaced=0
for a in "$@"; do
  name=""
  dir=""
  case "$a" in
    -L*) lib_dirs+=("${a#-L}") ;;
    /*.so | /*.so.*)
      dir=${a%/*}
      base=${a##*/}
      name=${base%%.so*}
      ;;
    -l*) name=lib${a#-l} ;;
  esac
  if [[ -n $name && $name =~ $static ]]; then
    archive=""
    if [[ -n $dir ]]; then
      [[ -f $dir/$name.a ]] && archive=$dir/$name.a
    else
      for d in "${lib_dirs[@]}"; do
        [[ -f $d/$name.a ]] && archive=$d/$name.a && break
      done
      if [[ -z $archive ]]; then
        found=$("$compiler" -print-file-name="$name.a")
        [[ $found == /* && -f $found ]] && archive=$found
      fi
    fi
    if [[ -z $archive ]]; then
      # Half a static link (say gRPC's archive over Abseil's shared library) would hold two copies of a
      # library: refuse.
      echo "static_link.sh: no static archive $name.a next to $a (scripts/deps.sh installs the -dev" \
        "packages that ship them); configure with -DAA_STATIC_LINK=OFF to link shared libraries" >&2
      exit 1
    fi
    a=$archive
    replaced=$((replaced + 1))
  fi
  args+=("$a")
done
if [[ $replaced -eq 0 ]]; then
  echo "static_link.sh: no library of the static set on the link line: $*" >&2
  exit 1
fi
exec "${args[@]}"
