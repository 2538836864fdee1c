# Checks used by test-image.sh (sourced): the SD layout and the QEMU boot of each image.
# Expects pass/fail/check/log/die, $T (scratch on tmpfs), $OUT, $CACHE_DIR, $BOOT_TIMEOUT,
# QEMU_PIDS and timings from the caller.

image_name() { case $1 in armhf) echo hearth-odroid-xu4-armhf ;; arm64) echo hearth-arm64 ;; esac; }

# Bytes [sector, sector+count) of a file.
sectors() { dd if="$1" bs=512 skip="$2" count="$3" status=none; }
is_zero() { [ -z "$(sectors "$1" "$2" "$3" | tr -d '\0' | head -c 1)" ]; }
part_field() { # part_field IMG N FIELD  (from sfdisk's JSON)
  sfdisk -J "$1" | python3 -c "import json,sys; p=json.load(sys.stdin)['partitiontable']['partitions'][$2]; print(p.get('$3', ''))"
}

check_odroid_layout() {
  local img=$1 ver uboot size
  log "checking the ODROID-XU4 SD layout of $(basename "$img")"
  check "SD: MBR with FAT32 p1 at sector 8192 (4 MiB)" \
    test "$(part_field "$img" 0 start) $(part_field "$img" 0 type)" = "8192 c"
  check "SD: ext4 root p2 marked bootable (u-boot distro boot)" \
    test "$(part_field "$img" 1 type) $(part_field "$img" 1 bootable)" = "83 True"
  ver=$(sed -n 's/^u-boot: Debian source \([^,]*\),.*/\1/p' "${img%.img}.build-info.txt")
  uboot=$CACHE_DIR/u-boot-$ver-${UBOOT_DEFCONFIG%_defconfig}.bin
  size=$(stat -c %s "$uboot")
  check "SD: u-boot $ver ($size bytes ≤ 720 KiB) at sector 63" \
    cmp -s <(sectors "$img" 63 $(( (size + 511) / 512 )) | head -c "$size") "$uboot"
  check "SD: u-boot environment (sectors 2015-2046) cleared" is_zero "$img" 2015 32
  check "SD: no stray bytes where BL1/BL2 go when built without them" is_zero "$img" 1 62
  check "SD: no stray bytes where TZSW goes when built without it" is_zero "$img" 1503 512
  check "SD: FAT labelled HEARTH-BOOT with the README" \
    sh -c "MTOOLS_SKIP_CHECK=1 mlabel -s -i '$img@@4194304' :: | grep -q HEARTH-BOOT && MTOOLS_SKIP_CHECK=1 mdir -b -i '$img@@4194304' ::/ | grep -qi readme.txt"
  local rootoff=$(( $(part_field "$img" 1 start) * 512 ))
  local boot; boot=$(debugfs -R 'ls -p /boot' "$img?offset=$rootoff" 2>/dev/null | cut -d/ -f6)
  check "SD: root has /boot/boot.scr for u-boot" grep -qx boot.scr <<<"$boot"
  check "SD: boot.scr boots root=LABEL=hearth-root on the XU4's serial console" \
    sh -c "debugfs -R 'cat /boot/boot.scr' '$img?offset=$rootoff' 2>/dev/null | grep -a -q 'root=LABEL=hearth-root.*console=ttySAC2'"
  check "SD: root has the XU4 device tree (exynos5422-odroidxu4.dtb)" \
    sh -c "debugfs -R 'rdump /boot/dtbs $T' '$img?offset=$rootoff' >/dev/null 2>&1; find '$T/dtbs' -name exynos5422-odroidxu4.dtb | grep -q ."

  # Adding the blobs later (stand-ins of the real sizes here) puts each at its sector and
  # leaves u-boot and the partitions alone.
  local fused=$T/fused.img blobs=$T/blobs
  mkdir -p "$blobs"
  head -c 15360 /dev/urandom >"$blobs/bl1.bin.hardkernel"
  head -c 14336 /dev/urandom >"$blobs/bl2.bin.hardkernel.720k_uboot"
  head -c 262144 /dev/urandom >"$blobs/tzsw.bin.hardkernel"
  cp --sparse=always "$img" "$fused"
  bash "$IMAGE_DIR/write-odroid-bootloader.sh" --bootloader-dir "$blobs" "$fused" 2>/dev/null
  check "SD: BL1 at sector 1" cmp -s <(sectors "$fused" 1 30) "$blobs/bl1.bin.hardkernel"
  check "SD: BL2 at sector 31" cmp -s <(sectors "$fused" 31 28) "$blobs/bl2.bin.hardkernel.720k_uboot"
  check "SD: TZSW at sector 1503" cmp -s <(sectors "$fused" 1503 512) "$blobs/tzsw.bin.hardkernel"
  check "SD: u-boot intact after adding blobs" cmp -s <(sectors "$fused" 63 1440) <(sectors "$img" 63 1440)
  check "SD: MBR and partitions intact after adding blobs" \
    cmp -s <(sectors "$fused" 0 1; tail -c +$((4 * 1048576 + 1)) "$fused") <(sectors "$img" 0 1; tail -c +$((4 * 1048576 + 1)) "$img")
  head -c 8M /dev/zero >"$T/not-hearth.img"
  check "write-odroid-bootloader refuses a disk that is not a Hearth card" \
    sh -c "! bash '$IMAGE_DIR/write-odroid-bootloader.sh' --bootloader-dir '$blobs' '$T/not-hearth.img' 2>/dev/null"
  rm -f "$fused" "$T/not-hearth.img"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The wizard's page, and its API accepting the right setup token and refusing a wrong one,
# over HTTPS as a browser would (POST /_hearth/api/setup/claim, X-Hearth-Setup-Token).
check_wizard() {
  local a=$1 base=$2 token=$3 ctype code
  ctype=$(curl -sk -o "$T/index-$a.html" -w '%{http_code} %{content_type}' "$base/")
  check "$a: wizard page loads (GET / → $ctype)" sh -c "echo '$ctype' | grep -q '^200 text/html' && grep -qi '<html' '$T/index-$a.html'"
  code=$(curl -sk -o "$T/claim-$a.json" -w '%{http_code}' -X POST -H "X-Hearth-Setup-Token: $token" "$base/_hearth/api/setup/claim")
  check "$a: wizard accepts the right setup token (HTTP $code)" test "$code" = 200
  code=$(curl -sk -o "$T/wrong-token-$a.json" -w '%{http_code}' -X POST -H 'X-Hearth-Setup-Token: aaaa-bbbb-cccc-dddd' "$base/_hearth/api/setup/claim")
  check "$a: wizard refuses a wrong setup token (HTTP $code $(cat "$T/wrong-token-$a.json" 2>/dev/null | head -c 60))" \
    sh -c "[ '$code' = 403 ] && grep -q M_FORBIDDEN '$T/wrong-token-$a.json'"
}

boot_and_check() {
  local a=$1 name img disk log p80 p443 p22 user qemu t0 boot_s
  name=$(image_name "$a")
  img=$OUT/$name.img
  disk=$T/disk-$a.img
  log=$OUT/console-$a.log
  log "booting $name under qemu ($a, TCG)"
  cp --sparse=always "$img" "$disk"
  # A bigger "card": first boot must grow the root partition into it.
  truncate -s +1G "$disk"
  rm -f "$T/id" "$T/id.pub"; ssh-keygen -q -t ed25519 -N '' -f "$T/id"
  p80=$(free_port) p443=$(free_port) p22=$(free_port)
  # restrict=on: the guest reaches nothing outside (no NTP, no apt); host→guest forwards only.
  local net="user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$p80-:80,hostfwd=tcp:127.0.0.1:$p443-:443,hostfwd=tcp:127.0.0.1:$p22-:22"
  case $a in
    armhf)
      user=root
      # The ODROID way to add a key: a file on the FAT partition, written from a "PC".
      MTOOLS_SKIP_CHECK=1 mcopy -o -i "$disk@@4194304" "$T/id.pub" ::authorized_keys
      # QEMU has no Exynos: boot the image's own armmp kernel and initramfs on the virt machine.
      local rootoff kver
      rootoff=$(( $(part_field "$disk" 1 start) * 512 ))
      kver=$(debugfs -R 'ls -p /boot' "$disk?offset=$rootoff" 2>/dev/null | cut -d/ -f6 | sed -n 's/^vmlinuz-//p' | sort -V | tail -1)
      debugfs -R "dump /boot/vmlinuz-$kver $T/vmlinuz" "$disk?offset=$rootoff" >/dev/null 2>&1
      debugfs -R "dump /boot/initrd.img-$kver $T/initrd" "$disk?offset=$rootoff" >/dev/null 2>&1
      [ -s "$T/vmlinuz" ] && [ -s "$T/initrd" ] || die "could not extract kernel $kver from the image"
      qemu=(qemu-system-arm -M virt -cpu cortex-a15 -smp 2 -m 2048
        -kernel "$T/vmlinuz" -initrd "$T/initrd"
        -append "root=LABEL=hearth-root rootwait ro console=ttyAMA0,115200"
        -drive "if=none,file=$disk,format=raw,id=d0" -device virtio-blk-device,drive=d0
        -netdev "$net" -device virtio-net-device,netdev=n0)
      ;;
    arm64)
      user=admin
      # The EC2 way: cloud-init; here its NoCloud "cidata" disk carries the key.
      printf 'instance-id: hearth-test-1\nlocal-hostname: hearth\n' >"$T/meta-data"
      printf '#cloud-config\nssh_authorized_keys:\n  - %s\n' "$(cat "$T/id.pub")" >"$T/user-data"
      rm -f "$T/seed.img"; mkfs.vfat -n CIDATA -C "$T/seed.img" 2048 >/dev/null
      MTOOLS_SKIP_CHECK=1 mcopy -i "$T/seed.img" "$T/meta-data" "$T/user-data" ::/
      qemu=(qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 2048
        -bios /usr/share/qemu-efi-aarch64/QEMU_EFI.fd
        -drive "if=none,file=$disk,format=raw,id=d0" -device virtio-blk-pci,drive=d0
        -drive "if=none,file=$T/seed.img,format=raw,id=d1,readonly=on" -device virtio-blk-pci,drive=d1
        -netdev "$net" -device virtio-net-pci,netdev=n0)
      ;;
  esac
  t0=$(now)
  "${qemu[@]}" -display none -monitor none -serial "file:$log" -no-reboot &
  local qpid=$!
  QEMU_PIDS+=("$qpid")

  # Boot: until /health answers from the host.
  local up=0
  while [ $(( $(now) - t0 )) -lt "$BOOT_TIMEOUT" ]; do
    kill -0 "$qpid" 2>/dev/null || break
    if curl -fsS -m 5 -o "$T/health-$a.json" "http://127.0.0.1:$p80/health" 2>/dev/null; then up=1; break; fi
    sleep 3
  done
  boot_s=$(( $(now) - t0 ))
  if [ $up = 0 ]; then
    fail "$a: /health never answered within ${boot_s}s (console: $log)"
    tail -30 "$log" >&2 || true
    kill "$qpid" 2>/dev/null || true
    return
  fi
  timings+=("boot $a (qemu start → /health answers on port 80) ${boot_s}s")
  pass "$a: /health answers over HTTP after ${boot_s}s: $(cat "$T/health-$a.json")"
  check "$a: /health says ok" grep -q '"ok":true' "$T/health-$a.json"
  check "$a: /health answers over HTTPS (port 443, bootstrap certificate)" \
    sh -c "curl -fsSk -m 10 https://127.0.0.1:$p443/health | grep -q '\"ok\":true'"

  local sshopts=(-i "$T/id" -p "$p22" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o ConnectTimeout=15 -o BatchMode=yes -o LogLevel=ERROR)
  # As root on the ODROID (no sudo there), as admin with sudo on the cloud image.
  local sudo=""; [ "$user" = root ] || sudo=sudo
  g() { ssh "${sshopts[@]}" "$user@127.0.0.1" "$sudo sh -c '$*'" 2>/dev/null; }
  local ok=0 i
  for i in $(seq 1 20); do if g true; then ok=1; break; fi; sleep 3; done
  check "$a: SSH with the key given the image's way ($([ $a = armhf ] && echo 'boot partition file' || echo cloud-init)) as $user" test $ok = 1
  [ $ok = 1 ] || { kill "$qpid"; return; }
  check "$a: SSH refuses password login" sh -c "ssh -p $p22 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive -o BatchMode=yes \
    nobody@127.0.0.1 true 2>&1 | grep -q 'Permission denied (publickey)'"

  local token
  token=$(g cat /var/lib/hearth/setup-token | tr -d '\r\n')
  check "$a: setup token created at first start ($token)" test -n "$token"
  check "$a: setup token printed on the console" grep -qF "$token" "$log"
  check_wizard "$a" "https://127.0.0.1:$p443" "$token"
  [ "$a" = armhf ] && check "$a: setup token copied to the FAT boot partition" \
    sh -c "ssh ${sshopts[*]} $user@127.0.0.1 cat /boot/firmware/hearth-setup-token.txt | grep -qF '$token'"

  local part_bytes root_bytes
  part_bytes=$(( $(part_field "$img" 1 size) * 512 ))
  root_bytes=$(g findmnt -bno SIZE /)
  check "$a: first boot grew the root filesystem ($((part_bytes / 1048576)) → $((${root_bytes:-0} / 1048576)) MiB)" \
    test "${root_bytes:-0}" -gt $((part_bytes + 512 * 1048576))
  check "$a: SSH host keys generated on the device" g test -s /etc/ssh/ssh_host_ed25519_key
  check "$a: hearth runs as the unprivileged user hearth" \
    test "$(g 'ps -o user= -p $(systemctl show -p MainPID --value hearth)' | tr -d ' ')" = hearth
  check "$a: hearth.local announced (avahi-daemon active)" g systemctl is-active -q avahi-daemon
  local failed; failed=$(g systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')
  check "$a: no failed units${failed:+ (failed: $failed)}" test -z "$failed"

  # Watchdog: the WATCHDOG=1 pings keep arriving (every WatchdogSec/2 = 30 s).
  local w1 w2
  w1=$(g systemctl show -p WatchdogTimestampMonotonic --value hearth)
  sleep 35
  w2=$(g systemctl show -p WatchdogTimestampMonotonic --value hearth)
  check "$a: watchdog pings arrive (Type=notify, WatchdogSec)" test "${w2:-0}" -gt "${w1:-0}"

  # VmRSS and private anonymous memory of a guest PID, e.g. "RSS 52.1 MB, anon 14.3 MB".
  mem_of() { g cat "/proc/$1/status" | awk '/^VmRSS/{r=$2} /^RssAnon/{a=$2} END{if (r) printf "RSS %.1f MB, anon %.1f MB", r/1024, a/1024; else printf "unreadable"}'; }
  # A restart keeps the data: same files (apart from the live database), same token, new PID.
  local pid1 pid2 before after t1
  pid1=$(g systemctl show -p MainPID --value hearth)
  local mem1; mem1=$(mem_of "$pid1")
  before=$(g 'cd /var/lib/hearth && find . -type f ! -name "*.db*" ! -name "*-wal" ! -name "*-shm" | sort | xargs sha256sum; ls -i *.db 2>/dev/null')
  t1=$(now)
  g systemctl restart hearth
  local back=0
  for i in $(seq 1 100); do
    if curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$p80/health" 2>/dev/null; then back=1; break; fi
    sleep 2
  done
  timings+=("restart $a (systemctl restart → /health) $(( $(now) - t1 ))s")
  pid2=$(g systemctl show -p MainPID --value hearth)
  # Memory on the target architecture (a number to report, not a check): the restarted process
  # has served only /health, the wizard checks before the restart loaded the setup pages too.
  timings+=("memory $a hearth after the wizard checks: $mem1")
  sleep 10
  timings+=("memory $a hearth idle after restart (only /health served): $(mem_of "$pid2")")
  after=$(g 'cd /var/lib/hearth && find . -type f ! -name "*.db*" ! -name "*-wal" ! -name "*-shm" | sort | xargs sha256sum; ls -i *.db 2>/dev/null')
  check "$a: after a restart /health answers again with a new process ($pid1 → $pid2)" \
    test "$back" = 1 -a "$pid1" != "$pid2" -a -n "$pid2"
  check "$a: a restart keeps the data (keys, token, database file)" test -n "$before" -a "$before" = "$after"
  check "$a: same setup token after the restart" test "$(g cat /var/lib/hearth/setup-token | tr -d '\r\n')" = "$token"
  check_wizard "$a-after-restart" "https://127.0.0.1:$p443" "$token"

  # Clean shutdown; then read the card from the "PC" side.
  g systemctl poweroff >/dev/null 2>&1 || true
  for i in $(seq 1 60); do kill -0 "$qpid" 2>/dev/null || break; sleep 2; done
  kill "$qpid" 2>/dev/null && fail "$a: did not power off within 120s" || pass "$a: powers off cleanly"
  wait "$qpid" 2>/dev/null || true
  if [ "$a" = armhf ]; then
    check "$a: setup token readable from the card's FAT partition on a PC" \
      sh -c "MTOOLS_SKIP_CHECK=1 mtype -i '$disk@@4194304' ::hearth-setup-token.txt | grep -qF '$token'"
  fi
  rm -f "$disk"
}
