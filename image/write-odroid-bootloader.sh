#!/bin/bash
# Writes Hardkernel's signed Exynos 5422 first stages (BL1, BL2, TrustZone) into a Hearth
# ODROID-XU4 image file or an SD card that was built with --without-hardkernel-blobs.
# u-boot itself (sector 63) is already there. Partitions are not touched: everything written
# lies below sector 2048, and the first partition starts at 4 MiB (sector 8192).
#
# Usage: bash image/write-odroid-bootloader.sh --bootloader-dir DIR hearth-odroid-xu4-armhf.img
#        bash image/write-odroid-bootloader.sh --bootloader-dir DIR /dev/sdX   (the card, as root)
set -euo pipefail
IMAGE_DIR=$(cd "$(dirname "$0")" && pwd)
. "$IMAGE_DIR/lib/common.sh"
. "$IMAGE_DIR/lib/disk.sh"

blobs="" target=""
while [ $# -gt 0 ]; do
  case $1 in
    --bootloader-dir) shift; blobs=${1:?} ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) target=$1 ;;
  esac
  shift
done
[ -n "$blobs" ] && [ -n "$target" ] || die "usage: $0 --bootloader-dir DIR IMAGE_OR_DEVICE"
missing=$(check_exynos_blobs "$blobs") || die "missing in $blobs: $missing (Hardkernel u-boot, branch odroidxu4-v2017.05, sd_fuse/)"
[ -e "$target" ] || die "no such file or device: $target"

# Refuse anything that does not look like a Hearth card: p1 must start at 4 MiB.
start=$(sfdisk -d "$target" 2>/dev/null | sed -n 's/.*start= *\([0-9]*\).*/\1/p' | head -1)
[ "$start" = 8192 ] || die "$target does not look like a Hearth ODROID image (first partition at sector ${start:-?}, expected 8192)"

w="conv=notrunc,fsync status=none"
dd if="$blobs/bl1.bin.hardkernel" of="$target" seek=$EXYNOS_BL1_SECTOR bs=512 $w
dd if="$blobs/bl2.bin.hardkernel.720k_uboot" of="$target" seek=$EXYNOS_BL2_SECTOR bs=512 $w
dd if="$blobs/tzsw.bin.hardkernel" of="$target" seek=$EXYNOS_TZSW_SECTOR bs=512 $w
sync
log "wrote BL1 (sector $EXYNOS_BL1_SECTOR), BL2 ($EXYNOS_BL2_SECTOR) and TZSW ($EXYNOS_TZSW_SECTOR) to $target"
if [ -f "$target" ]; then sha256_file "$target"; log "updated $target.sha256"; fi
