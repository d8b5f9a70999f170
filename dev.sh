#!/usr/bin/env bash
# Set up what this machine lacks, then run the main job or the tests.
#
#   ./dev.sh demo     set up, then start the demo on the embedded defaults (`twin demo`)
#   ./dev.sh test     set up, then run the whole test suite
#   ./dev.sh setup    set up only
#
# Set-up is idempotent and quick when nothing changed: Debian packages the tests need
# (mosquitto, chromium, Node.js/npm; EGL and Mesa's software OpenGL for pyvista's off-screen
# renders in drill reports; PostgreSQL when none answers on 127.0.0.1:5432), the
# Python virtual environment in .venv with the project and its dev extras, and the viewer's
# npm packages.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
PY=${PYTHON:-python3}

say() { printf '[dev] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root for: $*"; return 1; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  [ $# -gt 0 ] || return 0
  say "installing Debian packages: $*"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

setup_system() {
  local pkgs=()
  [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null || pkgs+=(mosquitto)
  [ -x /usr/bin/chromium ] || pkgs+=(chromium fonts-noto-cjk)
  command -v npm >/dev/null || pkgs+=(nodejs npm)
  # VTK's wheels render off-screen through EGL (no X server): libEGL, Mesa's EGL vendor and
  # its llvmpipe software driver (docs/drill-report.md)
  if ! ls /usr/lib/*/libEGL_mesa.so.0 /usr/lib/*/dri/swrast_dri.so >/dev/null 2>&1; then
    pkgs+=(libegl1 libegl-mesa0 libgl1-mesa-dri libgl1)
  fi
  if ! port_open 5432 && ! command -v pg_ctlcluster >/dev/null; then pkgs+=(postgresql); fi
  apt_install "${pkgs[@]}"
  if ! port_open 5432; then
    say "starting PostgreSQL (trust auth on 127.0.0.1)"
    local ver; ver=$(ls /etc/postgresql | sort -V | tail -n1)
    local hba="/etc/postgresql/$ver/main/pg_hba.conf"
    if ! grep -q "^host all all 127.0.0.1/32 trust" "$hba" 2>/dev/null; then
      as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    for _ in $(seq 1 30); do port_open 5432 && break; sleep 1; done
  fi
}

setup_python() {
  local stamp=.venv/.installed
  if [ ! -x .venv/bin/python ]; then
    say "creating the virtual environment .venv"
    "$PY" -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    say "installing the project and its dev extras into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[dev]'
    touch "$stamp"
  fi
}

setup_viewer() {
  [ -f viewer/package.json ] || return 0
  if [ ! -d viewer/node_modules ] || [ viewer/package-lock.json -nt viewer/node_modules ]; then
    say "installing the viewer's npm packages"
    (cd viewer && npm ci --no-audit --no-fund --loglevel=error)
    touch viewer/node_modules
  fi
}

setup() { setup_system; setup_python; setup_viewer; }

case "${1:-}" in
  setup) setup ;;
  demo) shift; setup; exec .venv/bin/twin demo "$@" ;;
  test) shift; setup; exec .venv/bin/python -m pytest -q "$@" ;;
  *) echo "usage: ./dev.sh demo|test|setup" >&2; exit 2 ;;
esac
