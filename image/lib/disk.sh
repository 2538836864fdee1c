# Disk images from a root directory without loop mounts: partition table by sfdisk on a plain
# file, FAT by mkfs.vfat + mtools, ext4 by mke2fs -d, then dd into place (sourced).

MiB=1048576

# Root partition size: the tree plus 25% and 160 MiB of slack for the first boot's journal,
# database and apt lists; first boot grows it to the card/volume anyway.
root_size_mib() {
  local kib
  kib=$(du -s --apparent-size -k "$1" | cut -f1)
  echo $(( (kib * 125 / 100) / 1024 + 160 ))
}

# make_ext4 DIR OUT SIZE_MIB
make_ext4() {
  local dir=$1 out=$2 mib=$3
  rm -f "$out"
  # -m 1: 1% reserved is plenty on an appliance root. -d keeps owners, modes, setuid, xattrs.
  mke2fs -q -F -t ext4 -L hearth-root -m 1 -d "$dir" "$out" "${mib}M" || die "mke2fs -d failed"
  e2fsck -fn "$out" >/dev/null || die "fresh ext4 fails e2fsck"
}

# make_fat OUT SIZE_MIB LABEL DIR (DIR's contents are copied in with mtools)
make_fat() {
  local out=$1 mib=$2 label=$3 dir=$4
  rm -f "$out"
  mkfs.vfat -F 32 -n "$label" -C "$out" $((mib * 1024)) >/dev/null || die "mkfs.vfat failed"
  if [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
    MTOOLS_SKIP_CHECK=1 mcopy -s -Q -m -i "$out" "$dir"/* ::/ || die "mcopy into the FAT image failed"
  fi
}

place() { dd if="$1" of="$2" bs=1M seek=$(($3 / MiB)) conv=notrunc,sparse status=none; }

# ODROID-XU4 SD card: MBR; sectors 1..8191 hold the Exynos boot chain; p1 FAT (HEARTH-BOOT)
# at 4 MiB; p2 ext4 root, marked bootable so u-boot's distro boot reads /boot/boot.scr there.
# assemble_odroid ROOTDIR BOOTFS_DIR OUT UBOOT BLOBDIR|""
assemble_odroid() {
  local root=$1 bootfs=$2 out=$3 uboot=$4 blobs=$5 work
  work=$(dirname "$out")
  local fat_mib=64 root_mib
  root_mib=$(root_size_mib "$root")
  local p1=$((4 * MiB)) p2=$(( (4 + fat_mib) * MiB ))
  local total=$(( p2 + root_mib * MiB ))
  log "assembling $(basename "$out"): FAT ${fat_mib} MiB + root ${root_mib} MiB"
  make_ext4 "$root" "$work/root.ext4" "$root_mib"
  make_fat "$work/boot.fat" "$fat_mib" HEARTH-BOOT "$bootfs"
  rm -f "$out" && truncate -s "$total" "$out"
  sfdisk -q "$out" <<EOF || die "sfdisk failed"
label: dos
unit: sectors
start=$((p1 / 512)), size=$((fat_mib * MiB / 512)), type=c
start=$((p2 / 512)), size=$((root_mib * MiB / 512)), type=83, bootable
EOF
  place "$work/boot.fat" "$out" "$p1"
  place "$work/root.ext4" "$out" "$p2"
  rm -f "$work/boot.fat" "$work/root.ext4"
  write_exynos_bootloader "$out" "$uboot" "$blobs"
}

# The Exynos 5422 boot chain at its documented 512-byte sectors (Hardkernel's sd_fusing.sh):
# BL1 at 1, BL2 at 31, u-boot at 63, TrustZone at 1503; 2015..2046 is u-boot's environment,
# cleared so stale settings from an older card image do not survive.
EXYNOS_BL1_SECTOR=1 EXYNOS_BL2_SECTOR=31 EXYNOS_UBOOT_SECTOR=63 EXYNOS_TZSW_SECTOR=1503
EXYNOS_ENV_SECTOR=2015 EXYNOS_ENV_SECTORS=32
EXYNOS_BLOBS=(bl1.bin.hardkernel bl2.bin.hardkernel.720k_uboot tzsw.bin.hardkernel)

# write_exynos_bootloader IMG_OR_DEVICE UBOOT BLOBDIR|""
write_exynos_bootloader() {
  local img=$1 uboot=$2 blobs=$3
  local w="conv=notrunc,fsync status=none"
  if [ -n "$blobs" ]; then
    dd if="$blobs/bl1.bin.hardkernel" of="$img" seek=$EXYNOS_BL1_SECTOR bs=512 $w
    dd if="$blobs/bl2.bin.hardkernel.720k_uboot" of="$img" seek=$EXYNOS_BL2_SECTOR bs=512 $w
    dd if="$blobs/tzsw.bin.hardkernel" of="$img" seek=$EXYNOS_TZSW_SECTOR bs=512 $w
  fi
  dd if="$uboot" of="$img" seek=$EXYNOS_UBOOT_SECTOR bs=512 $w
  dd if=/dev/zero of="$img" seek=$EXYNOS_ENV_SECTOR bs=512 count=$EXYNOS_ENV_SECTORS $w
}

# Checks the Hardkernel files before any long work; names exactly what is missing.
check_exynos_blobs() {
  local dir=$1 f missing=()
  for f in "${EXYNOS_BLOBS[@]}"; do [ -s "$dir/$f" ] || missing+=("$f"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "${missing[*]}"
  return 1
}

# Graviton/UEFI disk: GPT; p1 EFI system partition (FAT, label HEARTH-EFI) at 1 MiB with
# EFI/BOOT/BOOTAA64.EFI; p2 ext4 root (label hearth-root) with the discoverable-partitions
# type for arm64 roots.
# assemble_gpt ROOTDIR ESP_DIR OUT
assemble_gpt() {
  local root=$1 esp=$2 out=$3 work
  work=$(dirname "$out")
  local esp_mib=64 root_mib
  root_mib=$(root_size_mib "$root")
  local p1=$MiB p2=$(( (1 + esp_mib) * MiB ))
  local total=$(( p2 + root_mib * MiB + MiB ))
  log "assembling $(basename "$out"): ESP ${esp_mib} MiB + root ${root_mib} MiB"
  make_ext4 "$root" "$work/root.ext4" "$root_mib"
  make_fat "$work/esp.fat" "$esp_mib" HEARTH-EFI "$esp"
  rm -f "$out" && truncate -s "$total" "$out"
  sfdisk -q "$out" <<EOF || die "sfdisk failed"
label: gpt
unit: sectors
start=$((p1 / 512)), size=$((esp_mib * MiB / 512)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI"
start=$((p2 / 512)), size=$((root_mib * MiB / 512)), type=B921B045-1DF0-41C3-AF44-4C6F280D3FAE, name="hearth-root"
EOF
  place "$work/esp.fat" "$out" "$p1"
  place "$work/root.ext4" "$out" "$p2"
  rm -f "$work/esp.fat" "$work/root.ext4"
}
