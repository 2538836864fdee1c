#!/bin/bash
# mmdebstrap --customize-hook: turns the fresh Debian root ($1) into the Hearth appliance.
# Runs on the build host; commands for the target run through chroot (qemu-user).
# Inputs from the environment: HEARTH_ARCH, HEARTH_APP (staged /usr/lib/hearth), HEARTH_REPO,
# HEARTH_OVERLAY, HEARTH_MANIFEST (where to write the package list).
set -euo pipefail
R=$1
arch=$HEARTH_ARCH
say() { echo "[customize $arch] $*" >&2; }
in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

# 1. Configuration files (overlay/common, then overlay/$arch).
for layer in common "$arch"; do
  [ -d "$HEARTH_OVERLAY/$layer" ] || continue
  cp -rT --no-preserve=ownership "$HEARTH_OVERLAY/$layer" "$R"
done
rm -f "$R/boot/grub/embedded.cfg"
rm -f "$R/etc/apt/sources.list"

# 2. Hearth itself in /usr/lib/hearth, `hearth` on PATH.
mkdir -p "$R/usr/lib/hearth"
cp -a "$HEARTH_APP/." "$R/usr/lib/hearth/"
chown -R 0:0 "$R/usr/lib/hearth"
chmod 0755 "$R/usr/lib/hearth/bin/hearth.js"
ln -sf ../lib/hearth/bin/hearth.js "$R/usr/bin/hearth"

# 3. Units, helper scripts, the hearth user.
install -m 0644 "$HEARTH_REPO"/systemd/*.service "$R/usr/lib/systemd/system/"
install -d "$R/usr/libexec/hearth"
install -m 0755 "$HEARTH_REPO"/systemd/libexec/* "$R/usr/libexec/hearth/"
install -D -m 0644 "$HEARTH_REPO/systemd/hearth.sysusers.conf" "$R/usr/lib/sysusers.d/hearth.conf"
in_root systemd-sysusers
units=(hearth.service hearth-firstboot.service hearth-setup-token.service
  systemd-networkd.service systemd-resolved.service avahi-daemon.service ssh.service fstrim.timer)
[ "$arch" = armhf ] && units+=(hearth-boot-config.service)
in_root systemctl enable "${units[@]}" 2>&1 | grep -v '^Created symlink' >&2 || true
for u in "${units[@]}"; do
  in_root systemctl is-enabled -q "$u" || { say "$u is not enabled"; exit 1; }
done
# Serial consoles get a login prompt via systemd's getty generator; nothing to enable.

# 4. No secrets in the image: host keys and machine-id are made on each device's first boot.
rm -f "$R"/etc/ssh/ssh_host_*
: >"$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id"
ln -sf ../run/systemd/resolve/stub-resolv.conf "$R/etc/resolv.conf"

# 5. Boot loader files inside the root filesystem.
case $arch in
  armhf)
    # Re-run flash-kernel with our kernel command line: /boot/boot.scr for mainline u-boot's
    # distro boot and the XU4 device tree. Kernel updates run it again by themselves.
    if ! in_root flash-kernel >&2; then
      # In case flash-kernel declines to work in a chroot: the same script by hand.
      say "flash-kernel failed in the chroot; writing boot.scr with mkimage instead"
      kver=$(cd "$R/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//' | sort -V | tail -1)
      mkdir -p "$R/boot/dtbs/$kver"
      cp "$R/usr/lib/linux-image-$kver/exynos5422-odroidxu4.dtb" "$R/boot/dtbs/$kver/"
      . "$R/etc/default/flash-kernel"
      cat >"$R/tmp/boot.cmd" <<BOOTCMD
setenv bootargs "$LINUX_KERNEL_CMDLINE_DEFAULTS $LINUX_KERNEL_CMDLINE"
load \${devtype} \${devnum}:\${distro_bootpart} \${kernel_addr_r} /boot/vmlinuz-$kver
load \${devtype} \${devnum}:\${distro_bootpart} \${fdt_addr_r} /boot/dtbs/$kver/exynos5422-odroidxu4.dtb
load \${devtype} \${devnum}:\${distro_bootpart} \${ramdisk_addr_r} /boot/initrd.img-$kver
bootz \${kernel_addr_r} \${ramdisk_addr_r}:\${filesize} \${fdt_addr_r}
BOOTCMD
      in_root mkimage -A arm -O linux -T script -C none -d /tmp/boot.cmd /boot/boot.scr >&2
      rm -f "$R/tmp/boot.cmd"
    fi
    [ -f "$R/boot/boot.scr" ] || { say "no /boot/boot.scr"; exit 1; }
    find "$R/boot" -name exynos5422-odroidxu4.dtb | grep -q . || { say "no exynos5422-odroidxu4.dtb in /boot"; exit 1; }
    ;;
  arm64)
    # GRUB as the removable-media EFI binary with a built-in config that finds the root by
    # label. grub-install needs a real block device; grub-mkimage does not.
    install -d "$R/boot/efi/EFI/BOOT"
    cp "$HEARTH_OVERLAY/arm64/boot/grub/embedded.cfg" "$R/tmp/embedded.cfg"
    mods=(part_gpt part_msdos fat ext2 search search_label search_fs_uuid configfile normal linux gzio echo test)
    in_root grub-mkimage -O arm64-efi -o /boot/efi/EFI/BOOT/BOOTAA64.EFI -p /boot/grub -c /tmp/embedded.cfg \
      "${mods[@]}" sleep efi_gop all_video ||
      in_root grub-mkimage -O arm64-efi -o /boot/efi/EFI/BOOT/BOOTAA64.EFI -p /boot/grub -c /tmp/embedded.cfg "${mods[@]}"
    rm -f "$R/tmp/embedded.cfg"
    # grub.cfg boots /vmlinuz and /initrd.img, the links Debian moves on every kernel update.
    if [ ! -L "$R/vmlinuz" ] || [ ! -L "$R/initrd.img" ]; then
      printf 'do_symlinks = yes\nlink_in_boot = no\n' >"$R/etc/kernel-img.conf"
      kver=$(cd "$R/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//' | sort -V | tail -1)
      in_root linux-update-symlinks install "$kver" "/boot/vmlinuz-$kver" >&2
    fi
    [ -L "$R/vmlinuz" ] && [ -L "$R/initrd.img" ] || { say "no /vmlinuz or /initrd.img symlink for grub.cfg"; exit 1; }
    ;;
esac

# 6. The initramfs must be able to find the root disk (see the qemu-user trap in STACK-NOTES).
for initrd in "$R"/boot/initrd.img-*; do
  kver=${initrd##*/initrd.img-}
  listing=$(in_root lsinitramfs "/boot/initrd.img-$kver")
  for m in virtio_blk ext4 $([ "$arch" = armhf ] && echo dw_mmc-exynos || echo nvme); do
    if ! grep -q "/$m\.ko" <<<"$listing" && ! grep -q "/$m\.ko" "$R/usr/lib/modules/$kver/modules.builtin"; then
      say "initramfs $kver lacks $m"; exit 1
    fi
  done
done

# The build-time no-op py3compile (rootfs.sh) gives way to the real one for later updates.
if in_root dpkg-divert --list /usr/bin/py3compile | grep -q hearth-real; then
  rm -f "$R/usr/bin/py3compile"
  in_root dpkg-divert --quiet --local --rename --remove /usr/bin/py3compile
fi

# 7. Record exactly what went in, then drop caches and logs of the build.
in_root dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\n' >"$HEARTH_MANIFEST"
in_root apt-get clean
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/debconf/*-old "$R"/var/lib/dpkg/*-old
find "$R/var/log" -type f -delete
rm -rf "$R"/tmp/* "$R"/var/tmp/*
say "done"
