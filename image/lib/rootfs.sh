# The root filesystem: Debian 13 from packages only, made by mmdebstrap on a tmpfs, configured
# by the hooks below (sourced by build-image.sh).

ROOTFS_COMMON=(
  systemd-sysv systemd-resolved systemd-timesyncd udev kmod dbus initramfs-tools zstd
  e2fsprogs dosfstools fdisk cloud-guest-utils
  openssh-server ca-certificates tzdata iproute2 iputils-ping procps less nano curl
  nodejs restic avahi-daemon unattended-upgrades
)
ROOTFS_ARMHF=(linux-image-armmp flash-kernel u-boot-tools)
ROOTFS_ARM64=(linux-image-cloud-arm64 grub-efi-arm64-bin grub2-common cloud-init amazon-ec2-utils cloud-initramfs-growroot sudo)

# Docs, man pages and translations are not needed on an appliance (copyright files stay).
ROOTFS_DPKG_OPTS=(
  'path-exclude=/usr/share/man/*'
  'path-exclude=/usr/share/info/*'
  'path-exclude=/usr/share/locale/*'
  'path-include=/usr/share/locale/locale.alias'
  'path-exclude=/usr/share/doc/*'
  'path-include=/usr/share/doc/*/copyright'
  'path-exclude=/usr/share/lintian/*'
)

# Kernel modules the initramfs must carry whatever initramfs-tools detects in the chroot:
# the ODROID's SD/eMMC, EC2's NVMe and ENA, and qemu virt's virtio for the boot test.
initramfs_modules() {
  case $1 in
    armhf) printf '%s\n' ext4 mmc_block dw_mmc dw_mmc-exynos virtio_mmio virtio_pci virtio_blk virtio_net ;;
    arm64) printf '%s\n' ext4 nvme ena virtio_mmio virtio_pci virtio_blk virtio_net ;;
  esac
}

# build_rootfs ARCH MIRROR DEST APPDIR REPO
build_rootfs() {
  local arch=$1 mirror=$2 dest=$3 app=$4 repo=$5
  local pkgs=("${ROOTFS_COMMON[@]}") dpkgopts=() o
  case $arch in
    armhf) pkgs+=("${ROOTFS_ARMHF[@]}") ;;
    arm64) pkgs+=("${ROOTFS_ARM64[@]}") ;;
  esac
  for o in "${ROOTFS_DPKG_OPTS[@]}"; do dpkgopts+=(--dpkgopt="$o"); done
  rm -rf "$dest"
  log "mmdebstrap $DEBIAN_SUITE $arch (${#pkgs[@]} packages) into $dest"
  local t0; t0=$(now)
  # qemu-user's default arm64 CPU emulates pointer authentication, which is slow under TCG.
  local qcpu=""; [ "$arch" = arm64 ] && qcpu=cortex-a72
  env ${qcpu:+QEMU_CPU=$qcpu} HEARTH_ARCH=$arch HEARTH_APP=$app HEARTH_REPO=$repo HEARTH_OVERLAY="$IMAGE_DIR/overlay" \
  HEARTH_MODULES="$(initramfs_modules "$arch")" \
  mmdebstrap --quiet --variant=minbase --arch="$arch" \
    --include="$(IFS=,; echo "${pkgs[*]}")" \
    "${dpkgopts[@]}" \
    --aptopt='Acquire::Retries "3"' \
    --aptopt='APT::Install-Recommends "false"' \
    --setup-hook='mkdir -p "$1/usr/share/initramfs-tools/modules.d" "$1/etc/flash-kernel"' \
    --setup-hook='printf "%s\n" $HEARTH_MODULES >"$1/usr/share/initramfs-tools/modules.d/hearth"' \
    --setup-hook='if [ "$HEARTH_ARCH" = armhf ]; then echo "Hardkernel Odroid XU4" >"$1/etc/flash-kernel/machine"; fi' \
    --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/bin/py3compile.hearth-real --add /usr/bin/py3compile' \
    --essential-hook='printf "#!/bin/sh\n# Byte-compiling under qemu-user is slow; Python compiles on the device at first use.\nexit 0\n" >"$1/usr/bin/py3compile"; chmod 0755 "$1/usr/bin/py3compile"' \
    --customize-hook="$IMAGE_DIR/lib/customize.sh" \
    "$DEBIAN_SUITE" "$dest" "deb $mirror $DEBIAN_SUITE main" >&2 ||
    die "mmdebstrap for $arch failed"
  log "rootfs $arch done in $(( $(now) - t0 )) s, $(du -sh --apparent-size "$dest" | cut -f1)"
}
