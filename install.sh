#!/usr/bin/env bash
# install.sh — install tapak on Debian / Raspberry Pi OS as a hardened systemd service.
#
#   sudo ./install.sh                         build (cargo, release) and install system-wide
#   sudo ./install.sh --binary ./tapak        install a binary built elsewhere (e.g. cross-compiled for aarch64)
#   ./install.sh --prefix "$HOME/tapak"       self-contained install under a directory, no root needed
#   DESTDIR=/tmp/stage ./install.sh ...       stage the system layout under a directory (packaging, tests)
#   sudo ./install.sh --uninstall [--purge]   remove it (data and configuration kept unless --purge)
#
# Run ./install.sh --help for every option. Safe to run again: it upgrades the binary, rewrites the unit, and never
# touches an existing configuration file or data directory contents.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVICE_USER="tapak"
SERVICE_NAME="tapak.service"

usage() {
  cat <<'EOF'
Usage: install.sh [OPTIONS]

Installs tapak: the binary, a "tapak" system user, the data directory, /etc/tapak/config.toml (from
config.example.toml, never overwritten) and a hardened systemd unit, then enables the service.

Options:
  --binary PATH      install this binary instead of building with `cargo build --release`
  --prefix DIR       install under DIR (default /usr/local). /usr/local and /usr give the system layout
                     (/etc/tapak, /var/lib/tapak, /etc/systemd/system); any other DIR gives a self-contained
                     layout (DIR/bin, DIR/etc/tapak, DIR/var/lib/tapak, DIR/lib/systemd/system) and skips the
                     system user, ownership changes and systemctl
  --destdir DIR      stage every path under DIR (same as the DESTDIR environment variable); skips the system
                     user, ownership changes and systemctl. The unit file still names the final paths
  --config-dir DIR   configuration directory (default /etc/tapak or PREFIX/etc/tapak)
  --data-dir DIR     data directory (default /var/lib/tapak or PREFIX/var/lib/tapak)
  --unit-dir DIR     where tapak.service goes (default /etc/systemd/system or PREFIX/lib/systemd/system)
  --no-enable        write the unit but do not enable or start anything
  --uninstall        stop and disable the service, remove the binary and the unit; keeps data and configuration
  --purge            with --uninstall: also delete the configuration, the data directory and the tapak user
  -h, --help         show this help

Environment: PREFIX and DESTDIR are honoured like --prefix and --destdir (the options win); CARGO (default cargo).

The service listens where config.toml's [server] listen says (default 0.0.0.0:8080). A port below 1024 needs
CAP_NET_BIND_SERVICE: this script grants it (AmbientCapabilities) only when the configured port is below 1024.
See docs/deploy.md for HTTPS, reverse proxies, tunnels, backups and upgrades.
EOF
}

say()  { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die()  { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------------- arguments
BINARY=""
PREFIX="${PREFIX:-/usr/local}"
DESTDIR="${DESTDIR:-}"
CONF_DIR=""
DATA_DIR=""
UNIT_DIR=""
ENABLE=1
ACTION="install"
PURGE=0

need_arg() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --binary)      need_arg "$@"; BINARY="$2"; shift 2 ;;
    --binary=*)    BINARY="${1#*=}"; shift ;;
    --prefix)      need_arg "$@"; PREFIX="$2"; shift 2 ;;
    --prefix=*)    PREFIX="${1#*=}"; shift ;;
    --destdir)     need_arg "$@"; DESTDIR="$2"; shift 2 ;;
    --destdir=*)   DESTDIR="${1#*=}"; shift ;;
    --config-dir)  need_arg "$@"; CONF_DIR="$2"; shift 2 ;;
    --config-dir=*) CONF_DIR="${1#*=}"; shift ;;
    --data-dir)    need_arg "$@"; DATA_DIR="$2"; shift 2 ;;
    --data-dir=*)  DATA_DIR="${1#*=}"; shift ;;
    --unit-dir)    need_arg "$@"; UNIT_DIR="$2"; shift 2 ;;
    --unit-dir=*)  UNIT_DIR="${1#*=}"; shift ;;
    --no-enable)   ENABLE=0; shift ;;
    --uninstall)   ACTION="uninstall"; shift ;;
    --purge)       PURGE=1; shift ;;
    -h|--help)     usage; exit 0 ;;
    *)             die "unknown option: $1 (see --help)" ;;
  esac
done
[ "$PURGE" = 1 ] && [ "$ACTION" != "uninstall" ] && die "--purge only goes with --uninstall"

abspath() { # absolute path without requiring it to exist
  case "$1" in
    /*) printf '%s' "$1" ;;
    *)  printf '%s/%s' "$(pwd)" "$1" ;;
  esac
}
PREFIX="$(abspath "${PREFIX%/}")"; [ -n "$PREFIX" ] || PREFIX="/"
[ -n "$DESTDIR" ] && DESTDIR="$(abspath "${DESTDIR%/}")"

case "$PREFIX" in
  /usr/local|/usr) LAYOUT="system" ;;
  *)               LAYOUT="prefix" ;;
esac
if [ "$LAYOUT" = "system" ]; then
  : "${CONF_DIR:=/etc/tapak}" "${DATA_DIR:=/var/lib/tapak}" "${UNIT_DIR:=/etc/systemd/system}"
else
  : "${CONF_DIR:=$PREFIX/etc/tapak}" "${DATA_DIR:=$PREFIX/var/lib/tapak}" "${UNIT_DIR:=$PREFIX/lib/systemd/system}"
fi
CONF_DIR="$(abspath "$CONF_DIR")"; DATA_DIR="$(abspath "$DATA_DIR")"; UNIT_DIR="$(abspath "$UNIT_DIR")"
BIN_DIR="$PREFIX/bin"
BIN="$BIN_DIR/tapak"
CONF="$CONF_DIR/config.toml"
UNIT="$UNIT_DIR/$SERVICE_NAME"
MANIFEST="$PREFIX/lib/tapak/install-manifest"

# Paths as written on disk (DESTDIR-staged) vs. as the running system sees them (in the unit file).
d() { printf '%s%s' "$DESTDIR" "$1"; }

IS_ROOT=0; [ "$(id -u)" = 0 ] && IS_ROOT=1
# System actions (user, ownership, systemctl) only for a real system install by root.
SYSTEM_ACTIONS=1
WHY_NO_SYSTEM=""
if [ -n "$DESTDIR" ]; then
  SYSTEM_ACTIONS=0; WHY_NO_SYSTEM="staging under DESTDIR=$DESTDIR"
elif [ "$LAYOUT" != "system" ]; then
  SYSTEM_ACTIONS=0; WHY_NO_SYSTEM="self-contained install under --prefix $PREFIX"
elif [ "$IS_ROOT" != 1 ]; then
  die "a system install (prefix $PREFIX) needs root: run it with sudo, or use --prefix DIR / DESTDIR=DIR for an unprivileged install"
fi
HAVE_SYSTEMD=0
if [ "$SYSTEM_ACTIONS" = 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  HAVE_SYSTEMD=1
fi

# ---------------------------------------------------------------------------------------------------- helpers
manifest_has() { [ -f "$(d "$MANIFEST")" ] && grep -qxF "$1" "$(d "$MANIFEST")"; }

safe_rm_rf() { # refuse to delete anything that looks like a system directory
  local p="$1"
  case "$p" in
    ""|/|/etc|/var|/var/lib|/usr|/usr/local|/home|/root|/bin|/lib|"$DESTDIR"|"$DESTDIR/") die "refusing to delete '$p'" ;;
  esac
  rm -rf -- "$p"
}

# Installs $1 as $2 with mode $3, atomically; prints whether it changed. Returns 0 if changed, 1 if identical.
put_file() {
  local src="$1" dst="$2" mode="$3" tmp
  mkdir -p "$(dirname "$dst")"
  if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
    chmod "$mode" "$dst"
    return 1
  fi
  tmp="$(mktemp "$(dirname "$dst")/.tapak-install.XXXXXX")"
  cp -- "$src" "$tmp"
  chmod "$mode" "$tmp"
  mv -f -- "$tmp" "$dst"
  return 0
}

# The TCP port of [server] listen in a config file (empty when unset).
listen_port() {
  awk '
    /^[[:space:]]*\[/ { section = $0; gsub(/[[:space:]]|\[|\]/, "", section); next }
    section == "server" && /^[[:space:]]*listen[[:space:]]*=/ {
      v = $0; sub(/^[^=]*=[[:space:]]*"/, "", v); sub(/".*/, "", v)
      n = split(v, parts, ":"); print parts[n]; exit
    }' "$1" 2>/dev/null || true
}

write_unit() { # $1 = output file; $2 = 1 to grant CAP_NET_BIND_SERVICE
  local caps_bound="" caps_ambient=""
  if [ "$2" = 1 ]; then
    caps_bound="CAP_NET_BIND_SERVICE"; caps_ambient="AmbientCapabilities=CAP_NET_BIND_SERVICE"
  else
    caps_ambient="# AmbientCapabilities=CAP_NET_BIND_SERVICE   (added by install.sh only when listen uses a port < 1024)"
  fi
  cat >"$1" <<EOF
# Installed by tapak's install.sh; re-running install.sh rewrites this file.
# Local changes belong in a drop-in: systemctl edit tapak
[Unit]
Description=tapak — WhatsApp facility-operations log
Documentation=https://github.com/tapak/tapak/blob/main/docs/deploy.md
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=$SERVICE_USER
Group=$SERVICE_USER
ExecStart=$BIN --config $CONF --data $DATA_DIR serve
Restart=on-failure
RestartSec=2s
# SIGTERM lets the writer commit what is queued before exit.
KillSignal=SIGTERM
TimeoutStopSec=30s
UMask=0027
LimitNOFILE=65536

# Hardening
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ReadWritePaths=$DATA_DIR
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RemoveIPC=yes
CapabilityBoundingSet=$caps_bound
$caps_ambient
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
EOF
}

# ---------------------------------------------------------------------------------------------------- uninstall
do_uninstall() {
  say "Uninstalling tapak (prefix $PREFIX${DESTDIR:+, DESTDIR $DESTDIR})"
  if [ "$HAVE_SYSTEMD" = 1 ]; then
    if systemctl list-unit-files "$SERVICE_NAME" >/dev/null 2>&1; then
      systemctl disable --now "$SERVICE_NAME" >/dev/null 2>&1 || true
      note "stopped and disabled $SERVICE_NAME"
    fi
  fi
  local removed=0
  for f in "$UNIT" "$BIN"; do
    if [ -e "$(d "$f")" ]; then rm -f -- "$(d "$f")"; note "removed $f"; removed=1; fi
  done
  if [ "$HAVE_SYSTEMD" = 1 ]; then systemctl daemon-reload || true; fi
  if [ "$PURGE" = 1 ]; then
    if [ -e "$(d "$CONF_DIR")" ]; then safe_rm_rf "$(d "$CONF_DIR")"; note "purged $CONF_DIR"; fi
    if [ -e "$(d "$DATA_DIR")" ]; then safe_rm_rf "$(d "$DATA_DIR")"; note "purged $DATA_DIR (database, evidence, exports)"; fi
    if [ "$SYSTEM_ACTIONS" = 1 ] && id "$SERVICE_USER" >/dev/null 2>&1; then
      if manifest_has "created-user $SERVICE_USER"; then
        if userdel "$SERVICE_USER" >/dev/null 2>&1; then note "removed user $SERVICE_USER"; else warn "could not remove user $SERVICE_USER"; fi
      else
        note "kept user $SERVICE_USER (it existed before install.sh ran)"
      fi
    fi
  else
    [ -e "$(d "$CONF")" ] && note "kept $CONF (use --purge to delete)"
    [ -e "$(d "$DATA_DIR")" ] && note "kept $DATA_DIR (use --purge to delete)"
  fi
  rm -f -- "$(d "$MANIFEST")"
  rmdir -- "$(d "$(dirname "$MANIFEST")")" 2>/dev/null || true
  [ "$removed" = 1 ] || note "nothing was installed at $BIN or $UNIT"
  say "Done."
}

if [ "$ACTION" = "uninstall" ]; then
  do_uninstall
  exit 0
fi

# ---------------------------------------------------------------------------------------------------- install
say "Installing tapak (prefix $PREFIX${DESTDIR:+, DESTDIR $DESTDIR})"
note "binary:  $BIN"
note "config:  $CONF"
note "data:    $DATA_DIR"
note "unit:    $UNIT"
[ "$SYSTEM_ACTIONS" = 1 ] || note "not creating the $SERVICE_USER user, changing ownership or calling systemctl: $WHY_NO_SYSTEM"

EXAMPLE="$SCRIPT_DIR/config.example.toml"
[ -f "$EXAMPLE" ] || die "config.example.toml not found next to install.sh ($EXAMPLE)"

# 1. The binary: given, or built here.
if [ -z "$BINARY" ]; then
  [ -f "$SCRIPT_DIR/Cargo.toml" ] || die "no --binary given and no Cargo.toml next to install.sh to build from"
  CARGO="${CARGO:-cargo}"
  say "Building the release binary (cargo build --release --locked)"
  if [ "$IS_ROOT" = 1 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && command -v sudo >/dev/null 2>&1; then
    note "building as $SUDO_USER (not as root)"
    (cd "$SCRIPT_DIR" && sudo -u "$SUDO_USER" -H -- bash -lc "$CARGO build --release --locked") \
      || die "cargo build failed (install Rust with rustup, or build elsewhere and pass --binary)"
  else
    command -v "$CARGO" >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs) or pass --binary PATH"
    (cd "$SCRIPT_DIR" && "$CARGO" build --release --locked) \
      || die "cargo build failed (or build elsewhere and pass --binary)"
  fi
  BINARY="$SCRIPT_DIR/target/release/tapak"
fi
[ -f "$BINARY" ] || die "binary not found: $BINARY"
[ -x "$BINARY" ] || die "not executable: $BINARY"
if ! "$BINARY" --version >/dev/null 2>&1; then
  die "$BINARY does not run on this machine (wrong architecture, or glibc too old: the aarch64 build needs Raspberry Pi OS Bookworm or newer)"
fi
note "version: $("$BINARY" --version)"

# 2. The system user.
if [ "$SYSTEM_ACTIONS" = 1 ]; then
  if id "$SERVICE_USER" >/dev/null 2>&1; then
    note "user $SERVICE_USER exists"
  else
    nologin="$(command -v nologin || echo /usr/sbin/nologin)"
    useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell "$nologin" \
      --comment "tapak appliance" "$SERVICE_USER"
    note "created system user $SERVICE_USER"
    CREATED_USER=1
  fi
fi

# 3. Binary (atomic replace; a running service keeps the old inode until restarted).
BIN_CHANGED=0
if put_file "$BINARY" "$(d "$BIN")" 0755; then
  BIN_CHANGED=1; note "installed $BIN"
else
  note "$BIN is already this build"
fi

# 4. Data directory: owned by tapak, 0750. Existing contents are never touched.
mkdir -p "$(d "$DATA_DIR")"
chmod 0750 "$(d "$DATA_DIR")"
if [ "$SYSTEM_ACTIONS" = 1 ]; then
  chown "$SERVICE_USER:$SERVICE_USER" "$(d "$DATA_DIR")"
fi
if [ "$SYSTEM_ACTIONS" = 1 ]; then note "data directory $DATA_DIR (0750, owner $SERVICE_USER)"; else note "data directory $DATA_DIR (0750)"; fi

# 5. Configuration: from the example only if none exists. It holds secrets: root:tapak 0640.
mkdir -p "$(d "$CONF_DIR")"
chmod 0750 "$(d "$CONF_DIR")"
if [ -e "$(d "$CONF")" ]; then
  note "kept existing $CONF (not overwritten)"
  if ! cmp -s "$EXAMPLE" "$(d "$CONF")"; then
    cp -- "$EXAMPLE" "$(d "$CONF_DIR")/config.example.toml"
    note "the current example is at $CONF_DIR/config.example.toml for comparison"
  fi
else
  tmp="$(mktemp "$(d "$CONF_DIR")/.config.XXXXXX")"
  cp -- "$EXAMPLE" "$tmp"
  chmod 0640 "$tmp"
  mv -- "$tmp" "$(d "$CONF")"
  note "created $CONF from config.example.toml: set whatsapp.cloud.app_secret, verify_token and access_token"
fi
if [ "$SYSTEM_ACTIONS" = 1 ]; then
  chown "root:$SERVICE_USER" "$(d "$CONF_DIR")" "$(d "$CONF")"
fi

# 6. The systemd unit.
PORT="$(listen_port "$(d "$CONF")")"
LOW_PORT=0
if [[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -gt 0 ] && [ "$PORT" -lt 1024 ]; then
  LOW_PORT=1
  note "listen port $PORT < 1024: the unit grants CAP_NET_BIND_SERVICE (and nothing else)"
fi
unit_tmp="$(mktemp)"
trap 'rm -f "$unit_tmp"' EXIT
write_unit "$unit_tmp" "$LOW_PORT"
UNIT_CHANGED=0
if put_file "$unit_tmp" "$(d "$UNIT")" 0644; then
  UNIT_CHANGED=1; note "wrote $UNIT"
else
  note "$UNIT unchanged"
fi

# 7. Manifest (what uninstall may remove; remembers whether we created the user).
mkdir -p "$(d "$(dirname "$MANIFEST")")"
{
  echo "# tapak install manifest — written by install.sh, read by install.sh --uninstall"
  echo "bin $BIN"
  echo "unit $UNIT"
  echo "config $CONF"
  echo "data $DATA_DIR"
  if [ "${CREATED_USER:-0}" = 1 ] || manifest_has "created-user $SERVICE_USER"; then
    echo "created-user $SERVICE_USER"
  fi
} >"$(d "$MANIFEST").new"
mv -f -- "$(d "$MANIFEST").new" "$(d "$MANIFEST")"

# 8. systemd.
if [ "$HAVE_SYSTEMD" = 1 ]; then
  systemctl daemon-reload
  if [ "$ENABLE" = 1 ]; then
    systemctl enable "$SERVICE_NAME" >/dev/null 2>&1 && note "enabled $SERVICE_NAME (starts at boot)"
    if systemctl is-active --quiet "$SERVICE_NAME"; then
      if [ "$BIN_CHANGED" = 1 ] || [ "$UNIT_CHANGED" = 1 ]; then
        systemctl restart "$SERVICE_NAME" && note "restarted $SERVICE_NAME on the new build"
      fi
    else
      note "start it once the configuration is filled in: sudo systemctl start tapak"
    fi
  fi
elif [ "$SYSTEM_ACTIONS" = 1 ]; then
  note "systemd is not running here: start tapak yourself, e.g."
  note "  sudo -u $SERVICE_USER $BIN --config $CONF --data $DATA_DIR serve"
fi

say "Done."
if [ "$SYSTEM_ACTIONS" = 1 ]; then
  cat <<EOF

Next steps:
  1. Edit $CONF (whatsapp.cloud.app_secret, verify_token, access_token; server.public_url)
  2. Create the first login:  echo 'a-long-password' | sudo -u $SERVICE_USER $BIN --config $CONF --data $DATA_DIR user add admin --role admin
  3. sudo systemctl restart tapak && journalctl -u tapak -f
  4. Expose the webhook to Meta over HTTPS: see docs/deploy.md
EOF
fi
