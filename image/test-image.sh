#!/bin/bash
# npm run test:image — builds both appliance images and boots each under QEMU (virt machine,
# TCG, the image's own kernel), then checks from the host what a person would:
#   /health answers (HTTP 80 and HTTPS 443), the wizard page loads and refuses a wrong setup
#   token, the token is on the console (and on the FAT partition of the SD image), SSH takes
#   the key given the image's way (boot partition file / cloud-init) and refuses passwords,
#   first boot grew the root filesystem, hearth runs unprivileged with a live watchdog, and a
#   restart of the service keeps its data.
# Also checks the ODROID SD layout byte by byte (with stand-in blobs, since Hardkernel's cannot
# be fetched here) and that a build without the blobs names what is missing.
# Needs root. Prints timings; writes them to image/out/test-image-times.txt.
#
# Env: HEARTH_TEST_ARCHES="armhf arm64" (default both), HEARTH_TEST_SKIP_BUILD=1 (reuse
# image/out), HEARTH_TEST_BOOT_TIMEOUT=900 (seconds per boot).
set -euo pipefail
IMAGE_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$IMAGE_DIR/.." && pwd)
. "$IMAGE_DIR/versions.env"
. "$IMAGE_DIR/lib/common.sh"
. "$IMAGE_DIR/lib/disk.sh"
. "$IMAGE_DIR/lib/boot-test.sh"

ARCHES=(${HEARTH_TEST_ARCHES:-armhf arm64})
OUT=$IMAGE_DIR/out
CACHE_DIR=${HEARTH_IMAGE_CACHE:-/var/cache/hearth-image}
BOOT_TIMEOUT=${HEARTH_TEST_BOOT_TIMEOUT:-900}

need_root
need_tools qemu-system-arm:qemu-system-arm qemu-system-aarch64:qemu-system-arm ssh:openssh-client \
  ssh-keygen:openssh-client curl:curl mcopy:mtools debugfs:e2fsprogs sfdisk:fdisk python3:python3
[ -f /usr/share/qemu-efi-aarch64/QEMU_EFI.fd ] || die "install qemu-efi-aarch64 (UEFI firmware for the arm64 boot)"

T=$(mktemp -d /dev/shm/hearth-test-image.XXXXXX)
QEMU_PIDS=()
cleanup() {
  local p
  for p in "${QEMU_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
FAILS=0
results=()
pass() { results+=("PASS $*"); log "PASS $*"; }
fail() { results+=("FAIL $*"); log "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
timings=()

# --- 1. a build without the Hardkernel blobs says what is missing, at once ---------------------
t0=$(now)
mkdir -p "$T/partial-blobs" && head -c 15360 /dev/urandom >"$T/partial-blobs/bl1.bin.hardkernel"
msg=$(bash "$IMAGE_DIR/build-image.sh" --arch armhf 2>&1) && fail "build without --bootloader-dir must fail" ||
  check "no --bootloader-dir: names all three blobs" \
    grep -q 'bl1.bin.hardkernel bl2.bin.hardkernel.720k_uboot tzsw.bin.hardkernel' <<<"$msg"
msg=$(bash "$IMAGE_DIR/build-image.sh" --arch armhf --bootloader-dir "$T/partial-blobs" 2>&1) && fail "partial blobs must fail" ||
  check "partial --bootloader-dir: names exactly the missing two" \
    grep -q 'missing in .*: bl2.bin.hardkernel.720k_uboot tzsw.bin.hardkernel\.' <<<"$msg"
[ $(( $(now) - t0 )) -lt 30 ] && pass "missing-blob errors come before any build work" || fail "missing-blob errors were slow"

# --- 2. build both images ----------------------------------------------------------------------
if [ "${HEARTH_TEST_SKIP_BUILD:-0}" != 1 ]; then
  t0=$(now)
  bash "$IMAGE_DIR/build-image.sh" --arch "$( [ ${#ARCHES[@]} = 2 ] && echo all || echo "${ARCHES[0]}")" \
    --without-hardkernel-blobs --out "$OUT" || die "image build failed"
  timings+=("build (both images, incl. build helper/u-boot cache) $(( $(now) - t0 ))s")
fi
for a in "${ARCHES[@]}"; do
  img=$OUT/$(image_name "$a").img
  [ -f "$img" ] || die "no $img"
  check "$(basename "$img").sha256 matches" sh -c "cd '$OUT' && sha256sum -c --quiet '$(basename "$img").sha256'"
  check "$(basename "$img").packages lists nodejs" grep -q '^nodejs	' "$OUT/$(image_name "$a").packages"
  timings+=("size $(basename "$img") $(du -m --apparent-size "$img" | cut -f1) MiB")
done

# --- 3. the ODROID SD layout, byte by byte -----------------------------------------------------
if [[ " ${ARCHES[*]} " == *" armhf "* ]]; then check_odroid_layout "$OUT/hearth-odroid-xu4-armhf.img"; fi

# --- 4. boot each image under QEMU and check it from the host ----------------------------------
for a in "${ARCHES[@]}"; do boot_and_check "$a"; done

echo
printf '%s\n' "${results[@]}"
printf 'time %s\n' "${timings[@]}" | tee "$OUT/test-image-times.txt"
echo "$(( ${#results[@]} - FAILS )) passed, $FAILS failed"
[ "$FAILS" = 0 ]
