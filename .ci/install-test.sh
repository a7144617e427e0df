#!/usr/bin/env bash
# Exercises install.sh without root and without Rust: installs into temporary prefixes (--prefix and DESTDIR),
# checks the layout and the unit, runs it twice (idempotent), checks the configuration is never overwritten, that
# a low listen port adds CAP_NET_BIND_SERVICE, and that --uninstall / --uninstall --purge remove what they should.
#
# Uses a stub binary unless TAPAK_BINARY names a real one (e.g. target/release/tapak).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
FAILS=0
PASSES=0
ok()   { PASSES=$((PASSES + 1)); printf '  ok   %s\n' "$*"; }
fail() { FAILS=$((FAILS + 1)); printf '  FAIL %s\n' "$*"; }
check() { # check "description" command...
  local what="$1"; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
mode_of() { stat -c '%a' "$1"; }
run_install() { # quiet unless it fails
  local log="$WORK/log.$RANDOM"
  if ! "$ROOT/install.sh" "$@" >"$log" 2>&1; then
    cat "$log"; fail "install.sh $* exited non-zero"; return 1
  fi
  cat "$log" >>"$WORK/all.log"
  LAST_LOG="$log"
}

if [ -n "${TAPAK_BINARY:-}" ]; then
  BIN_SRC="$TAPAK_BINARY"
else
  BIN_SRC="$WORK/tapak-stub"
  cat >"$BIN_SRC" <<'EOF'
#!/bin/sh
# stub standing in for the tapak binary
case "$1" in --version) echo "tapak 0.0.0-stub" ;; *) exit 0 ;; esac
EOF
  chmod 0755 "$BIN_SRC"
fi

echo "== install.sh --help and bad usage"
check "--help exits 0 and documents --uninstall" bash -c "'$ROOT/install.sh' --help | grep -q -- --uninstall"
check "an unknown option is refused" bash -c "! '$ROOT/install.sh' --bogus >/dev/null 2>&1"
check "--purge without --uninstall is refused" bash -c "! '$ROOT/install.sh' --purge --prefix '$WORK/x' >/dev/null 2>&1"
check "a missing --binary is refused" bash -c "! '$ROOT/install.sh' --prefix '$WORK/x' --binary '$WORK/nope' >/dev/null 2>&1"
if [ "$(id -u)" != 0 ]; then
  check "a system install without root is refused" bash -c "! '$ROOT/install.sh' --binary '$BIN_SRC' >/dev/null 2>&1"
fi

echo "== --prefix: self-contained layout"
P="$WORK/prefix"
run_install --prefix "$P" --binary "$BIN_SRC"
check "binary installed, executable" test -x "$P/bin/tapak"
check "binary identical to the source" cmp -s "$BIN_SRC" "$P/bin/tapak"
check "config created from the example" cmp -s "$ROOT/config.example.toml" "$P/etc/tapak/config.toml"
check "config mode 0640" test "$(mode_of "$P/etc/tapak/config.toml")" = 640
check "data dir exists, mode 0750" test "$(mode_of "$P/var/lib/tapak")" = 750
UNIT="$P/lib/systemd/system/tapak.service"
check "unit written" test -f "$UNIT"
check "unit ExecStart names the prefix paths" \
  grep -qxF "ExecStart=$P/bin/tapak --config $P/etc/tapak/config.toml --data $P/var/lib/tapak serve" "$UNIT"
for key in "User=tapak" "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
           "ReadWritePaths=$P/var/lib/tapak" "CapabilityBoundingSet=" "SystemCallFilter=@system-service" \
           "Restart=on-failure" "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" "WantedBy=multi-user.target"; do
  check "unit has $key" grep -qxF "$key" "$UNIT"
done
check "unit grants no ambient capability for port 8080" bash -c "! grep -q '^AmbientCapabilities=' '$UNIT'"
check "user creation skipped, and said so" grep -q "not creating the tapak user" "$LAST_LOG"
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify syntax only; the binary path and user may not exist here, so only look for parse errors.
  if systemd-analyze verify "$UNIT" 2>&1 | grep -Ei 'unknown (key|section)|failed to parse|invalid' ; then
    fail "systemd-analyze reports unit syntax problems"
  else
    ok "systemd-analyze finds no syntax problems"
  fi
fi

echo "== second run is idempotent and keeps a changed config"
echo '# local edit' >>"$P/etc/tapak/config.toml"
echo 'keep me' >"$P/var/lib/tapak/tapak.db"
cp "$P/etc/tapak/config.toml" "$WORK/config.before"
find "$P" -type f ! -name config.example.toml -printf '%P\n' | sort >"$WORK/files.before"
sha_before="$(find "$P" -type f ! -name config.example.toml -exec sha256sum {} + | sort)"
run_install --prefix "$P" --binary "$BIN_SRC"
check "second run: existing config kept byte-for-byte" cmp -s "$WORK/config.before" "$P/etc/tapak/config.toml"
check "second run: says the config was kept" grep -q "kept existing" "$LAST_LOG"
check "second run: current example placed beside it" test -f "$P/etc/tapak/config.example.toml"
check "second run: data untouched" grep -qx 'keep me' "$P/var/lib/tapak/tapak.db"
check "second run: binary reported unchanged" grep -q "already this build" "$LAST_LOG"
check "second run: unit reported unchanged" grep -q "tapak.service unchanged" "$LAST_LOG"
sha_after="$(find "$P" -type f ! -name config.example.toml -exec sha256sum {} + | sort)"
check "second run: no installed file changed" test "$sha_before" = "$sha_after"
run_install --prefix "$P" --binary "$BIN_SRC"
sha_third="$(find "$P" -type f ! -name config.example.toml -exec sha256sum {} + | sort)"
check "third run: still nothing changed" test "$sha_before" = "$sha_third"

echo "== a new binary replaces the old one"
cp "$BIN_SRC" "$WORK/tapak-v2"; printf '\n# v2\n' >>"$WORK/tapak-v2"
run_install --prefix "$P" --binary "$WORK/tapak-v2"
check "upgrade: binary replaced" cmp -s "$WORK/tapak-v2" "$P/bin/tapak"
check "upgrade: config still kept" cmp -s "$WORK/config.before" "$P/etc/tapak/config.toml"

echo "== a port below 1024 grants CAP_NET_BIND_SERVICE"
sed -i 's/^listen = "0.0.0.0:8080"/listen = "0.0.0.0:443"/' "$P/etc/tapak/config.toml"
run_install --prefix "$P" --binary "$BIN_SRC"
check "low port: AmbientCapabilities=CAP_NET_BIND_SERVICE" grep -qxF "AmbientCapabilities=CAP_NET_BIND_SERVICE" "$UNIT"
check "low port: bounding set is only CAP_NET_BIND_SERVICE" grep -qxF "CapabilityBoundingSet=CAP_NET_BIND_SERVICE" "$UNIT"
sed -i 's/^listen = "0.0.0.0:443"/listen = "0.0.0.0:8080"/' "$P/etc/tapak/config.toml"
run_install --prefix "$P" --binary "$BIN_SRC"
check "high port again: no ambient capability" bash -c "! grep -q '^AmbientCapabilities=' '$UNIT'"

echo "== --uninstall keeps config and data"
run_install --prefix "$P" --uninstall
check "uninstall: binary removed" test ! -e "$P/bin/tapak"
check "uninstall: unit removed" test ! -e "$UNIT"
check "uninstall: manifest removed" test ! -e "$P/lib/tapak/install-manifest"
check "uninstall: config kept" cmp -s "$P/etc/tapak/config.toml" <(sed 's/0.0.0.0:443/0.0.0.0:8080/' "$WORK/config.before")
check "uninstall: data kept" grep -qx 'keep me' "$P/var/lib/tapak/tapak.db"
run_install --prefix "$P" --uninstall
check "uninstall twice: harmless" grep -q "nothing was installed" "$LAST_LOG"

echo "== reinstall after uninstall keeps the old config; --purge removes everything"
run_install --prefix "$P" --binary "$BIN_SRC"
check "reinstall: old config kept" grep -q '^# local edit' "$P/etc/tapak/config.toml"
run_install --prefix "$P" --uninstall --purge
check "purge: config dir removed" test ! -e "$P/etc/tapak"
check "purge: data dir removed" test ! -e "$P/var/lib/tapak"
check "purge: binary removed" test ! -e "$P/bin/tapak"
left="$(find "$P" -type f | wc -l)"
check "purge: no files left under the prefix ($left)" test "$left" = 0

echo "== DESTDIR: staged system layout"
D="$WORK/stage"
DESTDIR="$D" run_install --binary "$BIN_SRC"
check "DESTDIR: binary at /usr/local/bin/tapak" test -x "$D/usr/local/bin/tapak"
check "DESTDIR: config at /etc/tapak/config.toml" test -f "$D/etc/tapak/config.toml"
check "DESTDIR: data dir /var/lib/tapak, 0750" test "$(mode_of "$D/var/lib/tapak")" = 750
check "DESTDIR: unit at /etc/systemd/system" test -f "$D/etc/systemd/system/tapak.service"
check "DESTDIR: unit names the final paths (no DESTDIR inside)" \
  grep -qxF "ExecStart=/usr/local/bin/tapak --config /etc/tapak/config.toml --data /var/lib/tapak serve" \
  "$D/etc/systemd/system/tapak.service"
check "DESTDIR: ReadWritePaths=/var/lib/tapak" grep -qxF "ReadWritePaths=/var/lib/tapak" "$D/etc/systemd/system/tapak.service"
check "DESTDIR: user creation skipped, and said so" grep -q "staging under DESTDIR" "$LAST_LOG"
check "DESTDIR: --destdir and DESTDIR agree" bash -c "'$ROOT/install.sh' --destdir '$D' --binary '$BIN_SRC' | grep -q 'already this build'"
DESTDIR="$D" run_install --uninstall
check "DESTDIR uninstall: binary and unit removed" \
  bash -c "test ! -e '$D/usr/local/bin/tapak' && test ! -e '$D/etc/systemd/system/tapak.service'"
check "DESTDIR uninstall: config and data kept" \
  bash -c "test -f '$D/etc/tapak/config.toml' && test -d '$D/var/lib/tapak'"

echo
echo "install-test: $PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
