#!/bin/bash
# Builds the Hearth appliance images from Debian 13 (trixie) packages:
#   hearth-odroid-xu4-armhf.img  SD card image for the ODROID-XU4 (MBR, u-boot, armmp kernel)
#   hearth-arm64.img             GPT/UEFI disk for AWS Graviton (and any arm64 UEFI machine)
# each with a .sha256 and a .packages manifest beside it. See image/README.md.
#
# Usage: bash image/build-image.sh [--arch armhf|arm64|all] [--bootloader-dir DIR]
#          [--without-hardkernel-blobs] [--out DIR] [--vmdk] [--unpinned]
# Needs root and (Debian packages): mmdebstrap arch-test qemu-user-static binfmt-support fdisk
#   dosfstools mtools e2fsprogs curl file, plus qemu-utils for --vmdk.
set -euo pipefail

IMAGE_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$IMAGE_DIR/.." && pwd)
# shellcheck source=/dev/null
. "$IMAGE_DIR/versions.env"
for f in common builder app rootfs disk; do . "$IMAGE_DIR/lib/$f.sh"; done

ARCHES=(armhf arm64)
BLOBS="" NO_BLOBS=0 VMDK=0
OUT_DIR=$IMAGE_DIR/out
WORK=${HEARTH_IMAGE_WORK:-/tmp/hearth-image-work}
CACHE_DIR=${HEARTH_IMAGE_CACHE:-/var/cache/hearth-image}

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --arch) shift; case ${1:-} in all) ARCHES=(armhf arm64) ;; armhf | arm64) ARCHES=("$1") ;; *) die "--arch armhf|arm64|all" ;; esac ;;
    --bootloader-dir) shift; BLOBS=$(cd "${1:?--bootloader-dir DIR}" && pwd) || die "no such directory: $1" ;;
    --without-hardkernel-blobs) NO_BLOBS=1 ;;
    --out) shift; mkdir -p "$1"; OUT_DIR=$(cd "$1" && pwd) ;;
    --vmdk) VMDK=1 ;;
    --unpinned) export HEARTH_IMAGE_UNPINNED=1 ;;
    -h | --help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 ;;
  esac
  shift
done

want_arch() { [[ " ${ARCHES[*]} " == *" $1 "* ]]; }

# Fail in the first second, not after twenty minutes, when the ODROID's signed blobs are absent.
if want_arch armhf && [ "$NO_BLOBS" = 0 ]; then
  hint="They are Hardkernel's signed first-stage loaders for the Exynos 5422 and cannot be
  downloaded by this build. Copy them from Hardkernel's u-boot repository (branch
  odroidxu4-v2017.05, directory sd_fuse/) or from an official Hardkernel XU4 image, put the
  three files in one directory and pass --bootloader-dir DIR.
  To build without them (the card will not boot until you add them with
  image/write-odroid-bootloader.sh), pass --without-hardkernel-blobs."
  [ -n "$BLOBS" ] || die "the ODROID-XU4 image needs ${EXYNOS_BLOBS[*]}.
  $hint"
  missing=$(check_exynos_blobs "$BLOBS") || die "missing in $BLOBS: $missing.
  $hint"
fi

need_root
need_tools mmdebstrap:mmdebstrap arch-test:arch-test sfdisk:fdisk mkfs.vfat:dosfstools \
  mcopy:mtools mke2fs:e2fsprogs curl:curl file:file unshare:util-linux npm:npm
[ "$VMDK" = 1 ] && need_tools qemu-img:qemu-utils
ensure_binfmt "${ARCHES[@]}"
mkdir -p "$CACHE_DIR" "$OUT_DIR"

T_START=$(now)
times=()
stage() { times+=("$1 $(( $(now) - $2 ))s"); }

MIRROR=$(pick_mirror)
DEBIAN_VERSION=$(check_point_release "$MIRROR")
log "Debian $DEBIAN_VERSION from $MIRROR"

# Everything heavy happens on a private tmpfs, unmounted on exit.
mount_work_tmpfs "$WORK" "${HEARTH_IMAGE_TMPFS_SIZE:-7G}"
cleanup() { cd /; umount -l "$WORK" 2>/dev/null || true; rmdir "$WORK" 2>/dev/null || true; }
trap cleanup EXIT

t=$(now); BUILDER=$(ensure_builder "$MIRROR"); stage "build-helper" "$t"

for arch in "${ARCHES[@]}"; do
  T_ARCH=$(now)
  case $arch in
    armhf) name=hearth-odroid-xu4-armhf ;;
    arm64) name=hearth-arm64 ;;
  esac
  t=$(now); app=$(stage_app "$REPO" "$WORK" "$arch" "$BUILDER"); stage "$arch app" "$t"
  if [ "$arch" = armhf ]; then
    t=$(now); UBOOT=$(build_uboot "$BUILDER" "$WORK"); stage "u-boot" "$t"
  fi
  rootdir=$WORK/rootfs-$arch
  t=$(now)
  HEARTH_MANIFEST=$WORK/$name.packages build_rootfs "$arch" "$MIRROR" "$rootdir" "$app" "$REPO"
  stage "$arch rootfs" "$t"
  rm -rf "$app"

  t=$(now)
  fatdir=$WORK/fat-$arch
  rm -rf "$fatdir" && mkdir -p "$fatdir"
  case $arch in
    armhf)
      cp "$IMAGE_DIR/bootfs/README.txt" "$fatdir/"
      mkdir -p "$rootdir/boot/firmware"
      assemble_odroid "$rootdir" "$fatdir" "$WORK/$name.img" "$UBOOT" "$BLOBS"
      ;;
    arm64)
      # The ESP's files move out of the root tree; /boot/efi stays as the empty mount point.
      cp -a "$rootdir/boot/efi/." "$fatdir/" && rm -rf "$rootdir/boot/efi" && mkdir -p "$rootdir/boot/efi"
      assemble_gpt "$rootdir" "$fatdir" "$WORK/$name.img"
      ;;
  esac
  rm -rf "$rootdir" "$fatdir"
  mv "$WORK/$name.img" "$OUT_DIR/$name.img"
  mv "$WORK/$name.packages" "$OUT_DIR/$name.packages"
  sha256_file "$OUT_DIR/$name.img"
  if [ "$VMDK" = 1 ] && [ "$arch" = arm64 ]; then
    qemu-img convert -O vmdk -o subformat=streamOptimized "$OUT_DIR/$name.img" "$OUT_DIR/$name.vmdk"
    sha256_file "$OUT_DIR/$name.vmdk"
  fi
  stage "$arch image" "$t"
  stage "$arch total" "$T_ARCH"
  log "$name.img: $(du -h --apparent-size "$OUT_DIR/$name.img" | cut -f1) ($(du -h "$OUT_DIR/$name.img" | cut -f1) allocated)"
done

# One build-info file per image: what went in and how long it took.
for arch in "${ARCHES[@]}"; do
  case $arch in armhf) name=hearth-odroid-xu4-armhf ;; arm64) name=hearth-arm64 ;; esac
  {
    echo "image: $name.img"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "hearth: $(node -p "require('$REPO/package.json').version") from $(cat "$WORK/hearth-build/.source" 2>/dev/null || echo unknown)"
    echo "debian: $DEBIAN_SUITE $DEBIAN_VERSION from $MIRROR"
    if [ "$arch" = armhf ]; then
      echo "u-boot: Debian source $(cat "$WORK/uboot-version"), $UBOOT_DEFCONFIG"
      if [ -n "$BLOBS" ]; then echo "hardkernel blobs: $(cd "$BLOBS" && sha256sum "${EXYNOS_BLOBS[@]}" | awk '{printf "%s %s; ", $2, $1}')"
      else echo "hardkernel blobs: NOT INCLUDED (add with image/write-odroid-bootloader.sh)"; fi
    fi
    printf 'time %s\n' "${times[@]}"
    echo "time total $(( $(now) - T_START ))s"
  } >"$OUT_DIR/$name.build-info.txt"
  cat "$OUT_DIR/$name.build-info.txt" >&2
done
if want_arch armhf && [ -z "$BLOBS" ]; then
  log "NOTE: hearth-odroid-xu4-armhf.img has no Hardkernel BL1/BL2/TZSW: it will not boot on the board until
  bash image/write-odroid-bootloader.sh --bootloader-dir DIR $OUT_DIR/hearth-odroid-xu4-armhf.img"
fi
