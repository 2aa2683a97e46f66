#!/usr/bin/env bash
# Builds the layer zips, one per architecture, ready for `aws lambda publish-layer-version`:
#   dist/xraylayer-python-x86_64.zip and dist/xraylayer-python-arm64.zip
# Usage: ./build.sh [--out DIR] [--build-dir DIR]
#   --out DIR        where the zips go (default: dist/ beside this script)
#   --build-dir DIR  scratch folder, emptied first (default: build/layer/ beside this script)
# Needs CPython 3.10, 3.11, 3.12 and 3.13 (each byte-compiles the code it will run) and pip.
# Same inputs give the same bytes; the layout is DESIGN.md's "Layer zip layout".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/dist"
work="$here/build/layer"

die() {
    echo "build.sh: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --out)
            [ $# -ge 2 ] || die "--out needs a folder"
            out="$(realpath -m -- "$2")"
            shift 2
            ;;
        --build-dir)
            [ $# -ge 2 ] || die "--build-dir needs a folder"
            work="$(realpath -m -- "$2")"
            shift 2
            ;;
        -h | --help)
            sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
cd "$here"

versions=(3.10 3.11 3.12 3.13)
# Lambda's architecture name -> the machine name in wheel platform tags.
declare -A machines=([x86_64]=x86_64 [arm64]=aarch64)
architectures=(x86_64 arm64)
# glibc 2.17 wheels run on every Lambda Python runtime (Amazon Linux 2 and 2023). Wheels carry
# either the legacy manylinux2014 name or the PEP 600 one, so both are accepted.
platform_tags=(manylinux2014 manylinux_2_17)

real_interpreter() {
    # Real path of CPython $1: never a version-manager shim, which adds ~80 ms to every start.
    local version="$1" candidate resolved
    local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    local -a candidates=()
    mapfile -t candidates < <(
        printf '%s\n' "$pyenv_root"/versions/"$version".*/bin/python"$version" | sort -V -r
    )
    candidates+=("python$version")
    for candidate in "${candidates[@]}"; do
        command -v "$candidate" >/dev/null 2>&1 || continue
        resolved="$("$candidate" -I -c '
import os, sys, sysconfig
if sys.implementation.name == "cpython" and "%d.%d" % sys.version_info[:2] == sys.argv[1] \
        and not sysconfig.get_config_var("Py_GIL_DISABLED"):
    print(os.path.realpath(sys.executable))
' "$version" 2>/dev/null)" || continue
        if [ -n "$resolved" ]; then
            echo "$resolved"
            return 0
        fi
    done
    return 1
}

declare -A interpreter
missing=()
for version in "${versions[@]}"; do
    if path="$(real_interpreter "$version")"; then
        interpreter[$version]="$path"
    else
        missing+=("$version")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    die "CPython ${missing[*]} not found (looked in ${PYENV_ROOT:-$HOME/.pyenv}/versions and on PATH)." \
        "The layer ships byte-code for every supported Python, so each must be installed" \
        "(for example: pyenv install ${missing[0]})."
fi
# The tools need tomllib (3.11+); the newest supported Python is always there by now.
tool_python="${interpreter[${versions[-1]}]}"

if [ -x "$here/.venv/bin/python" ]; then
    pip=("$here/.venv/bin/python" -m pip)
else
    pip=(python3 -m pip)
fi
mapfile -t requirements < <("$tool_python" tools/runtime_dependencies.py pyproject.toml)
[ ${#requirements[@]} -gt 0 ] || die "no runtime dependencies read from pyproject.toml"

# Only ever empty a folder this script made: --build-dir may name anything.
marker="$work/.xraylayer-build"
if [ -e "$work" ] && [ -n "$(ls -A "$work")" ] && [ ! -e "$marker" ]; then
    die "$work is not empty and was not made by build.sh; choose another --build-dir"
fi
rm -rf "$work"
mkdir -p "$work" "$out"
touch "$marker"

compile_for() {
    # Hash-based pyc: /opt is read-only and unzip resets mtimes, so timestamp pyc would be stale
    # and recompiled on every cold start. -s/-p record /opt paths, not the build folder's.
    # A fixed hash seed fixes the order of set constants in the byte-code (no -I: it would
    # ignore PYTHONHASHSEED; -s and no PYTHONPATH keep the user's packages out instead).
    local version="$1" stage="$2"
    shift 2
    env -u PYTHONPATH PYTHONHASHSEED=0 "${interpreter[$version]}" -s -m compileall -q \
        --invalidation-mode unchecked-hash -s "$stage" -p /opt "$@" \
        >"$work/compile-$version.log" 2>&1 \
        || die "python$version could not compile the layer: $(cat "$work/compile-$version.log")"
}

for arch in "${architectures[@]}"; do
    machine="${machines[$arch]}"
    echo "== $arch: dependencies for Python ${versions[*]}"
    platforms=()
    for tag in "${platform_tags[@]}"; do
        platforms+=(--platform "${tag}_$machine")
    done
    installs=()
    for version in "${versions[@]}"; do
        site="$work/$arch/site/cp${version/./}"
        # -qq: pip warnings (say, about a configured index it cannot read) are noise; errors show.
        "${pip[@]}" install -qq --disable-pip-version-check --no-compile --no-input \
            --target "$site" "${platforms[@]}" --python-version "$version" \
            --implementation cp --only-binary=:all: -c tools/layer-constraints.txt \
            "${requirements[@]}" \
            || die "pip could not install the dependencies for Python $version on $arch"
        installs+=("$site")
    done
    "$tool_python" tools/prune_pip_target.py "${installs[@]}"

    stage="$work/$arch/opt"
    "$tool_python" tools/stage_layer.py "$here" "$stage"
    "$tool_python" tools/split_deps.py "$stage/xraylayer/deps" "${installs[@]}"

    echo "== $arch: byte-compiling for Python ${versions[*]}"
    pids=()
    for version in "${versions[@]}"; do
        compile_for "$version" "$stage" "$stage/xraylayer/boot" "$stage/xraylayer/python" \
            "$stage/xraylayer/deps/any" "$stage/xraylayer/deps/cp${version/./}" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || die "byte-compiling failed (see above)"
    done

    "$tool_python" tools/reproducible_zip.py "$stage" "$out/xraylayer-python-$arch.zip"
done
