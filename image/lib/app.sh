# Hearth built for the target architecture (sourced by build-image.sh).
#
# JavaScript is architecture-independent: the package's own build (npm run build) runs once.
# Production dependencies are installed for the target CPU with `npm ci --cpu=…` (prebuilt
# optional packages such as @img/sharp-linux-arm come from the registry that way), with install
# scripts off; native modules that compile
# from source (sqlite3) are then built with Debian's cross compilers in the build helper.

# Builds once per image build; prints the directory holding what the device needs: package.json,
# package-lock.json, bin/ and dist/ (the esbuild bundle and the wizard UI; native modules stay
# in node_modules). The source is a git commit (HEARTH_IMAGE_REF, default HEAD), not the
# working tree, so an image names exactly what it contains and half-written files in a busy
# tree cannot end up in it. HEARTH_IMAGE_REF=WORKTREE builds the working tree as it is.
build_app() {
  local repo=$1 work=$2 ref=${HEARTH_IMAGE_REF:-HEAD} src out=$work/hearth-build
  if [ ! -f "$out/.done" ]; then
    rm -rf "$out" && mkdir -p "$out"
    src=$work/src
    rm -rf "$src" && mkdir -p "$src"
    if [ "$ref" = WORKTREE ]; then
      (cd "$repo" && git ls-files -co --exclude-standard -z | tar --null -T - -c) | tar -x -C "$src" ||
        die "copying the working tree failed"
      echo "$(git -C "$repo" rev-parse HEAD) + uncommitted changes" >"$out/.source"
    else
      git -C "$repo" archive --format=tar "$ref" | tar -x -C "$src" || die "git archive $ref failed"
      git -C "$repo" rev-parse "$ref" >"$out/.source"
    fi
    # The build tools (esbuild, vite, svelte) from the checkout's node_modules.
    ln -s "$repo/node_modules" "$src/node_modules"
    log "building Hearth $(cut -c1-12 "$out/.source") (npm run build)"
    (cd "$src" && npm run --silent build >"$work/app-build.log" 2>&1) || { tail -30 "$work/app-build.log" >&2; die "npm run build failed"; }
    [ -f "$src/dist/hearth.mjs" ] || die "the build made no dist/hearth.mjs"
    local f
    for f in package.json package-lock.json bin dist README.md LICENSE; do
      [ -e "$src/$f" ] && cp -a "$src/$f" "$out/"
    done
    find "$out/dist" -name '*.map' -delete
    rm -rf "$src"
    touch "$out/.done"
  fi
  echo "$out"
}

# stage_app REPO WORK ARCH BUILDER_ROOT → prints the staged /usr/lib/hearth tree.
stage_app() {
  local repo=$1 work=$2 arch=$3 builder=$4
  local built dest npm_cpu cross gyp_arch
  case $arch in
    armhf) npm_cpu=arm gyp_arch=arm cross=arm-linux-gnueabihf ;;
    arm64) npm_cpu=arm64 gyp_arch=arm64 cross=aarch64-linux-gnu ;;
    *) die "unknown arch $arch" ;;
  esac
  built=$(build_app "$repo" "$work")
  dest="$work/app-$arch"
  rm -rf "$dest" && mkdir -p "$dest"
  cp -a "$built/." "$dest/"
  rm -f "$dest/.done" "$dest/.source"
  log "installing production dependencies for linux/$npm_cpu"
  (cd "$dest" && npm ci --silent --omit=dev --ignore-scripts --no-audit --no-fund \
    --cpu="$npm_cpu" --os=linux --libc=glibc >&2) || die "npm ci for $arch failed"

  # The addons listed in versions.env are compiled against trixie's own Node headers
  # (libnode-dev); they are N-API, so they do not depend on the exact Node version.
  local gyps="" m
  for m in $CROSS_COMPILE_MODULES; do
    [ -f "$dest/node_modules/$m/binding.gyp" ] || die "$m is listed in CROSS_COMPILE_MODULES but not installed"
    gyps+=" node_modules/$m"
  done
  local debarch=$arch triplet=$cross
  for mod in $gyps; do
    local ver cached
    ver=$(node -p "require('$dest/$mod/package.json').version")
    cached="$CACHE_DIR/addons/${mod##*/}-$ver-debian$DEBIAN_POINT_RELEASE-$arch"
    if [ -z "$(ls "$cached"/*.node 2>/dev/null)" ]; then
      log "cross-compiling $mod $ver for $arch ($cross-gcc)"
      local t0; t0=$(now)
      # Debian's Node is built as a shared libnode, and its headers make addons link with
      # -lnode: link against the target's own libnode from Debian (downloaded, not installed).
      in_builder "$builder" "$dest" sh -ec "
        sysroot=/opt/sysroot-$debarch
        if [ ! -e \$sysroot/usr/lib/$triplet/libnode.so ]; then
          dpkg --print-foreign-architectures | grep -qx $debarch || dpkg --add-architecture $debarch
          apt-get -qq update
          pkg=\$(dpkg -S \"\$(readlink -f /usr/lib/x86_64-linux-gnu/libnode.so)\" | cut -d: -f1)
          mkdir -p /tmp/libnode && cd /tmp/libnode && rm -f *.deb
          apt-get -qq download \$pkg:$debarch
          dpkg-deb -x ./*_$debarch.deb \$sysroot
          so=\$(cd \$sysroot/usr/lib/$triplet && ls libnode.so.* | head -1)
          ln -sf \$so \$sysroot/usr/lib/$triplet/libnode.so
        fi
        cd /build/$mod
        export CC=$cross-gcc CXX=$cross-g++ LINK=$cross-g++ AR=$cross-ar \\
               CC_host=gcc CXX_host=g++ LINK_host=g++ AR_host=ar \\
               LDFLAGS=-L\$sysroot/usr/lib/$triplet
        node-gyp rebuild --arch=$gyp_arch --nodedir=/usr --jobs=\$(nproc) >/tmp/gyp.log 2>&1 || { tail -40 /tmp/gyp.log; exit 1; }
        find build/Release -maxdepth 1 -name '*.node' -exec $cross-strip --strip-unneeded {} +" >&2 ||
        die "cross-compiling $mod failed"
      local built; built=$(find "$dest/$mod/build/Release" -maxdepth 1 -name '*.node' | head -1)
      [ -n "$built" ] || die "$mod: no .node built"
      mkdir -p "$cached" && cp "$built" "$cached/"
      log "  $mod built in $(( $(now) - t0 )) s"
    else
      log "$mod $ver for $arch: cached $(basename "$cached")"
    fi
    # Keep only the addon: objects, sources and the amalgamation are tens of MB.
    rm -rf "$dest/$mod/build" "$dest/$mod/deps" "$dest/$mod/src"
    mkdir -p "$dest/$mod/build/Release"
    cp "$cached"/*.node "$dest/$mod/build/Release/"
  done
  # Every native addon in the tree must be for the target CPU (a host binary would load on
  # nothing but fail only at run time on the device).
  local want node
  want=$(case $arch in armhf) echo 'ARM, EABI5' ;; arm64) echo 'ARM aarch64' ;; esac)
  while IFS= read -r node; do
    file -b "$node" | grep -q "$want" || die "${node#"$dest"/}: $(file -b "$node" | cut -d, -f1-2), not $arch"
  done < <(find "$dest/node_modules" -name '*.node' -type f)
  # Trim what never runs on the device.
  find "$dest/node_modules" \( -name '*.md' -o -name '*.map' -o -name '*.ts' -not -name '*.d.ts' \) -type f -delete 2>/dev/null || true
  find "$dest/node_modules" -depth -type d \( -name test -o -name tests -o -name docs -o -name example -o -name examples \) -exec rm -rf {} + 2>/dev/null || true
  # The units travel with the app, and the whole tree is also published as a tarball: what the
  # cloud-init recipe in README.md installs on a stock Debian 13 (same Node, same libnode).
  cp -a "$repo/systemd" "$dest/systemd"
  if [ -n "${OUT_DIR:-}" ]; then
    tar -C "$dest" --owner=0 --group=0 -czf "$OUT_DIR/hearth-$arch-app.tar.gz" . &&
      sha256_file "$OUT_DIR/hearth-$arch-app.tar.gz"
  fi
  echo "$dest"
}
