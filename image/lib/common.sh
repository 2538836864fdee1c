# Shared helpers for the image build (sourced, not run). Bash, set -euo pipefail by the caller.

log() { printf '\033[1m[image %s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '\033[1;31m[image] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }

# Seconds since the epoch, for the timing lines that the README quotes.
now() { date +%s; }

need_root() {
  [ "$(id -u)" = 0 ] || die "run as root: mmdebstrap chroots and mke2fs -d must keep file owners"
}

# Tools are Debian bookworm/trixie packages on the build host. Name the package, not just the
# command, so the fix is one apt-get line.
need_tools() {
  local missing=() pair cmd pkg
  for pair in "$@"; do
    cmd=${pair%%:*} pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    die "missing build tools; install them with: apt-get install -y $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
  fi
}

# Foreign-architecture chroot steps run under qemu-user through binfmt_misc, which containers
# often leave unmounted.
ensure_binfmt() {
  local arch
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null ||
      die "binfmt_misc is not mounted and cannot be mounted here"
  fi
  if command -v update-binfmts >/dev/null; then update-binfmts --enable >/dev/null 2>&1 || true; fi
  for arch in "$@"; do
    arch-test "$arch" >/dev/null 2>&1 ||
      die "cannot run $arch binaries: install qemu-user-static and binfmt-support (arch-test $arch fails)"
  done
}

# Pick the archive: snapshot.debian.org at the pinned date when it answers, else the live mirror,
# whose trixie suite must still be at the pinned point release (checked in check_point_release).
pick_mirror() {
  if [ -n "${HEARTH_IMAGE_MIRROR:-}" ]; then echo "$HEARTH_IMAGE_MIRROR"; return; fi
  local snap="http://snapshot.debian.org/archive/debian/$DEBIAN_SNAPSHOT"
  if curl -fsS -m 15 -o /dev/null "$snap/dists/$DEBIAN_SUITE/Release" 2>/dev/null; then
    echo "$snap"
  else
    echo "$DEBIAN_MIRROR_LIVE"
  fi
}

check_point_release() {
  local mirror=$1 version
  version=$(curl -fsS -m 30 "$mirror/dists/$DEBIAN_SUITE/Release" | sed -n 's/^Version: //p') ||
    die "cannot read $mirror/dists/$DEBIAN_SUITE/Release"
  if [ "$version" != "$DEBIAN_POINT_RELEASE" ]; then
    if [ "${HEARTH_IMAGE_UNPINNED:-0}" = 1 ]; then
      log "WARNING: $mirror has Debian $version, pinned $DEBIAN_POINT_RELEASE; building unpinned as asked"
    else
      die "$mirror serves Debian $version but image/versions.env pins $DEBIAN_POINT_RELEASE.
  Either point HEARTH_IMAGE_MIRROR at a snapshot of $DEBIAN_POINT_RELEASE, bump the pin in
  image/versions.env (and re-run npm run test:image), or pass --unpinned for a throwaway build."
    fi
  fi
  echo "$version"
}

# A private tmpfs for chroots: armhf under qemu-user on ext4 gets 32-bit-unsafe directory
# offsets and silently builds an initramfs without disk drivers (see STACK-NOTES).
mount_work_tmpfs() {
  local dir=$1 size=$2
  mkdir -p "$dir"
  if ! mountpoint -q "$dir"; then
    mount -t tmpfs -o "size=$size,mode=0755" hearth-image "$dir" || die "cannot mount a tmpfs on $dir"
  fi
}

sha256_file() { (cd "$(dirname "$1")" && sha256sum "$(basename "$1")" >"$(basename "$1").sha256"); }
