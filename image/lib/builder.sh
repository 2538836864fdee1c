# The build helper: a Debian 13 amd64 chroot holding Debian's cross compilers, node-gyp and the
# u-boot build dependencies. Kept in the cache (it is native amd64, so ext4 is fine) and reused
# while its package list is unchanged. Sourced by build-image.sh.

BUILDER_PACKAGES=(
  ca-certificates curl xz-utils dpkg-dev make bc bison flex python3 python3-setuptools
  python3-pyelftools python3-dev swig libssl-dev libgnutls28-dev uuid-dev device-tree-compiler
  gcc g++ libc6-dev
  gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf gcc-aarch64-linux-gnu g++-aarch64-linux-gnu
  nodejs node-gyp libnode-dev
)

builder_dir() {
  local key
  key=$(printf '%s\n' "$DEBIAN_POINT_RELEASE" "${BUILDER_PACKAGES[@]}" | sha256sum | cut -c1-12)
  echo "$CACHE_DIR/builder-$DEBIAN_SUITE-amd64-$key"
}

ensure_builder() {
  local dir mirror=$1
  dir=$(builder_dir)
  if [ -f "$dir/.complete" ]; then echo "$dir"; return; fi
  rm -rf "$dir" "$dir.tmp"
  log "creating the build helper chroot ($DEBIAN_SUITE amd64, cross compilers) in $dir"
  mmdebstrap --quiet --variant=apt --arch=amd64 \
    --include="$(IFS=,; echo "${BUILDER_PACKAGES[*]}")" \
    --aptopt='Acquire::Retries "3"' \
    "$DEBIAN_SUITE" "$dir.tmp" \
    "deb $mirror $DEBIAN_SUITE main" "deb-src $mirror $DEBIAN_SUITE main" >&2 ||
    die "mmdebstrap of the build helper failed"
  # The chroot's own resolver config, so apt-get source can reach the mirror later.
  cp -L /etc/resolv.conf "$dir.tmp/etc/resolv.conf" 2>/dev/null || true
  mv "$dir.tmp" "$dir"
  touch "$dir/.complete"
  echo "$dir"
}

# Run a command in the helper with /proc, /dev and one host directory at /build, in a private
# mount namespace so nothing stays mounted when it ends.
in_builder() {
  local root=$1 hostdir=$2
  shift 2
  mkdir -p "$root/build"
  unshare --mount --propagation private -- sh -ec '
    root=$1 hostdir=$2; shift 2
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --bind "$hostdir" "$root/build"
    cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
  ' in_builder "$root" "$hostdir" "$@"
}

# Mainline u-boot for the ODROID-XU4 from Debian's u-boot source package, cross-compiled with
# Debian's armhf compiler. Cached by source version. Prints the path of u-boot-dtb.bin.
build_uboot() {
  local root=$1 work=$2 out
  mkdir -p "$work/uboot"
  # Which version the pinned release has decides whether the cached build can be used.
  local ver
  ver=$(in_builder "$root" "$work/uboot" sh -c 'apt-get -qq update && apt-get -qq source --only-source --print-uris u-boot' |
    tr -d "\047" | awk '{print $2}' | sed -n 's/^u-boot_\(.*\)\.debian\.tar\..*/\1/p')
  [ -n "$ver" ] || die "cannot find Debian's u-boot source package"
  out="$CACHE_DIR/u-boot-$ver-${UBOOT_DEFCONFIG%_defconfig}.bin"
  echo "$ver" >"$work/uboot-version"
  if [ -s "$out" ]; then log "u-boot $ver: cached $(basename "$out")"; echo "$out"; return; fi
  log "fetching Debian's u-boot source package $ver"
  # The .dsc is not always served by the mirror here, so take the tarballs named in the
  # apt-verified Sources index, check their SHA-256 and unpack them the way dpkg-source does.
  in_builder "$root" "$work/uboot" sh -ec '
    cd /build && rm -rf u-boot-* u-boot_*
    apt-get -qq update
    apt-get -qq source --only-source --print-uris u-boot | tr -d "\047" >uris
    while read -r uri file size hash; do
      case $file in *.dsc | *.asc) continue ;; esac
      curl -fsS --retry 3 -o "$file" "$uri"
      echo "${hash#SHA256:}  $file" | sha256sum -c --quiet
    done <uris
    ver=$(awk "{print \$2}" uris | sed -n "s/^u-boot_\(.*\)\.debian\.tar\..*/\1/p")
    mkdir "u-boot-$ver" && tar -xf u-boot_*.orig.tar.* -C "u-boot-$ver" --strip-components=1
    tar -xf u-boot_*.debian.tar.* -C "u-boot-$ver"
    cd "u-boot-$ver"
    if [ -f debian/patches/series ]; then
      grep -v "^#" debian/patches/series | while read -r p _; do [ -n "$p" ] && patch -s -p1 <"debian/patches/$p"; done
    fi
    echo "$ver" >../version' >&2 ||
    die "fetching u-boot's source failed"
  local srcdir=u-boot-$ver
  if [ ! -s "$out" ]; then
    log "building u-boot $ver ($UBOOT_DEFCONFIG) with arm-linux-gnueabihf-gcc"
    local t0; t0=$(now)
    in_builder "$root" "$work/uboot" sh -ec "cd /build/$srcdir &&
      make -s CROSS_COMPILE=arm-linux-gnueabihf- O=/build/out $UBOOT_DEFCONFIG &&
      make -s -j\$(nproc) CROSS_COMPILE=arm-linux-gnueabihf- O=/build/out" >&2 ||
      die "u-boot build failed"
    cp "$work/uboot/out/u-boot-dtb.bin" "$out.tmp" && mv "$out.tmp" "$out"
    log "u-boot built in $(( $(now) - t0 )) s"
  fi
  local size; size=$(stat -c %s "$out")
  [ "$size" -le "$UBOOT_MAX_BYTES" ] || die "u-boot is $size bytes, more than the $UBOOT_MAX_BYTES that BL2 loads"
  echo "$out"
}
