#!/usr/bin/env bash
# Proves the README's two commands on a fresh Debian bookworm: debootstraps a minimal system (minbase plus git
# and sudo, nothing else: no kubectl, no Node.js, no compiler), clones this repository's HEAD into it, and runs
# `scripts/demo.sh` then `scripts/test.sh` in a chroot as an ordinary user with sudo, the way a newcomer would.
# Prints both results (exit code, wall time, the last lines of each) and exits non-zero if either failed.
# Not run by CI: it builds everything from nothing (about half an hour or more on 2 cores). Needs root.
# The Debian mirror is the one this machine's apt uses. ../shared (the CRD schemas, as CI has them beside the
# clone) is copied beside the clone when it exists, so the manifest suites run instead of reporting Skipped.
# Usage: scripts/fresh-check.sh [WORK_DIR]   (default: a new temporary directory, removed at the end)
#        KEEP=1 keeps WORK_DIR; DEMO_ARGS="..." passes arguments to demo.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "fresh-check.sh: run as root (debootstrap and chroot)" >&2; exit 2; }
work=${1:-$(mktemp -d /var/tmp/aa-fresh.XXXXXX)}
mkdir -p "$work"
sysroot=$work/bookworm
log=$work/logs
mkdir -p "$log"

if ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# The mirror this machine's apt already uses (deb822 sources first, then the one-line format).
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
  grep -v -- '-security' | head -n 1 || true)
[ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "fresh-check.sh: no Debian mirror found in /etc/apt" >&2; exit 2; }

mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  # Whatever the chroot left running (a Prometheus of a failed test) is ended before the tree goes.
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$sysroot" ] && kill -9 "${p#/proc/}" 2>/dev/null || true
  done
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

t0=$(date +%s)
echo "fresh-check: debootstrap bookworm (minbase + git, sudo) from the machine's mirror into $sysroot" >&2
debootstrap --variant=minbase --include=git,sudo,ca-certificates bookworm "$sysroot" "$mirror" >"$log/debootstrap.log" 2>&1 ||
  { tail -n 30 "$log/debootstrap.log"; exit 1; }
echo "fresh-check: debootstrap took $(( $(date +%s) - t0 )) s" >&2

cp /etc/resolv.conf "$sysroot/etc/resolv.conf"
cp /etc/hosts "$sysroot/etc/hosts"  # sudo looks up the host's own name
# The network's trust, not the machine's tools: a CA this machine added for a TLS-inspecting egress (npm's
# registry answers through it here) is trusted in the chroot too; a machine without one copies nothing.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  mkdir -p "$sysroot/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$sysroot/usr/local/share/ca-certificates/"
  chroot "$sysroot" update-ca-certificates >/dev/null 2>&1
fi
hostname >"$sysroot/etc/hostname"
# The same apt sources as the machine (the security suite too), not only debootstrap's single line.
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
  rm -f "$sysroot/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/*.sources "$sysroot/etc/apt/sources.list.d/"
fi
for m in proc sys dev dev/pts; do
  mkdir -p "$sysroot/$m"
  case $m in
    proc) mount -t proc proc "$sysroot/proc" ;;
    sys) mount -t sysfs sys "$sysroot/sys" ;;
    dev) mount --bind /dev "$sysroot/dev" ;;
    dev/pts) mount -t devpts devpts "$sysroot/dev/pts" ;;
  esac
  mounted+=("$sysroot/$m")
done
mkdir -p "$sysroot/tmp" && chmod 1777 "$sysroot/tmp"

# A newcomer: an ordinary user with sudo, the repository cloned from this one's HEAD (committed work only).
chroot "$sysroot" useradd -m -s /bin/bash newcomer
echo 'newcomer ALL=(ALL) NOPASSWD:ALL' >"$sysroot/etc/sudoers.d/newcomer"
chmod 440 "$sysroot/etc/sudoers.d/newcomer"
git clone -q --no-local "$root" "$sysroot/home/newcomer/autoscale-adapter"
# The commit under test, from the clone itself (the source tree's HEAD may move during the run;
# read before the chown below, after which git would refuse root's look as dubious ownership).
commit=$(git -C "$sysroot/home/newcomer/autoscale-adapter" rev-parse --short HEAD)
if [ -d "$root/../shared" ]; then
  cp -r "$root/../shared" "$sysroot/home/newcomer/shared"
fi
chroot "$sysroot" chown -R newcomer:newcomer /home/newcomer
echo "fresh-check: cloned $commit" >&2

run_as_newcomer() {  # NAME COMMAND...
  local name=$1; shift
  local start rc=0
  start=$(date +%s)
  echo "fresh-check: running $*" >&2
  chroot "$sysroot" /usr/bin/sudo -u newcomer -H bash -lc "cd ~/autoscale-adapter && $*" </dev/null \
    >"$log/$name.log" 2>&1 || rc=$?
  echo "$name|$rc|$(( $(date +%s) - start ))" >>"$log/results"
}
run_as_newcomer demo "scripts/demo.sh ${DEMO_ARGS:-}"
run_as_newcomer test "scripts/test.sh"

echo
echo "=== fresh-check of $commit on a debootstrapped bookworm (minbase + git, sudo) ==="
failed=0
while IFS='|' read -r name rc secs; do
  echo "--- scripts/$name.sh: exit $rc after ${secs} s; its last lines:"
  tail -n 15 "$log/$name.log"
  [ "$rc" -eq 0 ] || failed=1
done <"$log/results"
echo "=== total $(( $(date +%s) - t0 )) s; $([ $failed -eq 0 ] && echo 'both passed' || echo 'FAILED') ==="
exit $failed
