#!/usr/bin/env bash
# One-time machine set-up for valkey-chaos: valkey-server 8.0.x from Debian
# bookworm-backports, redis-server 7.0 from bookworm (drills), the Go modules, and (with --tools) tflint/tfsec built into
# .tools/. Idempotent: every step checks first and does nothing when satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tools=0
want_chromium=0
for arg in "$@"; do
  case "$arg" in
    --tools) want_tools=1 ;;
    --chromium) want_chromium=1 ;;
    *) echo "setup: unknown argument $arg (use --tools and/or --chromium)" >&2; exit 2 ;;
  esac
done

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "setup: $* missing and not root: run 'sudo scripts/setup.sh' or install $* yourself" >&2
    exit 2
  fi
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v valkey-server >/dev/null 2>&1; then
  echo "setup: installing valkey-server from bookworm-backports"
  if [ "$(id -u)" != 0 ]; then
    echo "setup: valkey-server not found and not root: as root add bookworm-backports to apt sources, then 'apt-get install -t bookworm-backports valkey-server' (or put valkey-server/redis-server on PATH and pass --server-bin)" >&2
    exit 2
  fi
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cat >/etc/apt/sources.list.d/bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  apt_updated=1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports valkey-server valkey-tools >/dev/null
  # The package starts a system service on 6379; the harness runs its own servers.
  (systemctl disable --now valkey-server >/dev/null 2>&1 || service valkey-server stop >/dev/null 2>&1 || true)
  pkill -x valkey-server 2>/dev/null || true
fi

# redis-server 7.0 (bookworm) is the other server of the upgrade and rollback drills.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "setup: installing redis-server (the upgrade and rollback drills' other server)"
  apt_install redis-server
  # Like valkey's, the package starts a system service on 6379.
  (systemctl disable --now redis-server >/dev/null 2>&1 || service redis-server stop >/dev/null 2>&1 || true)
  pkill -x redis-server 2>/dev/null || true
fi

# The Liberation fonts back gonum/plot's sans face; fuse2 gives go-fuse fusermount.
[ -e /usr/bin/fusermount ] || apt_install fuse

if [ "$want_chromium" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium for the report rendering test"
  apt_install chromium
fi

go mod download

if [ "$want_tools" = 1 ]; then
  mkdir -p .tools
  export GOBIN="$PWD/.tools"
  [ -x .tools/tflint ] || { echo "setup: building tflint into .tools/"; go install github.com/terraform-linters/tflint@v0.64.0; }
  [ -x .tools/tfsec ] || { echo "setup: building tfsec into .tools/"; go install github.com/aquasecurity/tfsec/cmd/tfsec@v1.26.0; }
fi
echo "setup: ok ($(valkey-server --version | head -c 60))"
