#!/bin/bash
# Fetch the pieces of the Xen rig from Debian and unpack them into the rig cache:
#
#   $RIG_CACHE/debs/            the downloaded .deb files
#   $RIG_CACHE/root/<package>/  each package unpacked with dpkg-deb -x
#   $RIG_CACHE/xen.elf          the hypervisor, decompressed (QEMU's multiboot loader wants an ELF)
#   $RIG_CACHE/vmlinuz          symlink to the dom0 kernel
#   $RIG_CACHE/kernel-version   the dom0 kernel's release string (e.g. 6.1.0-56-amd64)
#
# Idempotent: a package whose .deb is already in debs/ is not downloaded again, and one already
# unpacked is not unpacked again. `apt-get update` runs only when a download fails (typically a
# fresh container without package lists).
#
# The Xen tools in xen-utils-4.17 link against libxen* shared libraries that are NOT in these
# packages: they come from the host (dependencies of libxen-dev, plus libyajl2 etc.). We check
# with ldd at the end and fail naming any missing library.
#
# Usage: tools/rig/fetch.sh            (RIG_CACHE overrides the cache directory)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RIG_CACHE=${RIG_CACHE:-$ROOT/.rig-cache}
DEBS=$RIG_CACHE/debs
mkdir -p "$DEBS" "$RIG_CACHE/root"
RIG_CACHE=$(cd "$RIG_CACHE" && pwd)

log() { printf 'rig-fetch: %s\n' "$*" >&2; }
die() { printf 'rig-fetch: error: %s\n' "$*" >&2; exit 1; }

for tool in apt-get dpkg-deb ldd zcat; do
    command -v "$tool" >/dev/null || die "'$tool' not found (this rig needs a Debian host)"
done

UPDATED=0
# apt_download PKG: download PKG's candidate .deb into $DEBS (retry once after apt-get update).
apt_download() {
    local pkg=$1
    # apt-get download writes into the current directory; it is run as root in CI, and apt
    # drops privileges to _apt for downloads, which cannot write into root-owned dirs: so
    # download into a world-writable scratch dir first and move the file afterwards.
    local tmp
    tmp=$(mktemp -d "$RIG_CACHE/dl.XXXXXX")
    chmod 0777 "$tmp"
    if ! (cd "$tmp" && apt-get download -q "$pkg" >&2); then
        if [ "$UPDATED" = 0 ]; then
            log "download of $pkg failed; running apt-get update and retrying"
            apt-get update -q >&2 || die "apt-get update failed"
            UPDATED=1
            (cd "$tmp" && apt-get download -q "$pkg" >&2) || { rm -rf "$tmp"; die "cannot download $pkg"; }
        else
            rm -rf "$tmp"
            die "cannot download $pkg"
        fi
    fi
    mv "$tmp"/*.deb "$DEBS"/
    rm -rf "$tmp"
}

# have_deb PKG: print the cached .deb for exactly this package name (not e.g. PKG-dbg).
have_deb() {
    local f
    for f in "$DEBS/$1"_*.deb; do
        [ -f "$f" ] && { echo "$f"; return 0; }
    done
    return 1
}

fetch_pkg() {
    local pkg=$1
    if ! have_deb "$pkg" >/dev/null; then
        log "downloading $pkg"
        apt_download "$pkg"
    fi
    have_deb "$pkg" >/dev/null || die "$pkg: no .deb in $DEBS after download"
}

# The kernel: resolve the versioned image package from the metapackage's Depends. Reading the
# Depends of the downloaded metapackage (rather than `apt-cache show`, which lists every
# version in the lists) gives exactly the candidate's kernel.
fetch_pkg linux-image-amd64
META=$(have_deb linux-image-amd64)
KPKG=$(dpkg-deb -f "$META" Depends | tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*-amd64\).*/\1/p' | head -n1)
[ -n "$KPKG" ] || die "cannot find the versioned kernel package in the Depends of $META"

PKGS=(xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils "$KPKG")
for p in "${PKGS[@]}"; do
    fetch_pkg "$p"
done

# Unpack each package once; the stamp records which .deb was unpacked, so a newer .deb in the
# cache (after someone deleted the old one) is unpacked afresh.
for p in "${PKGS[@]}"; do
    deb=$(have_deb "$p")
    dest=$RIG_CACHE/root/$p
    if [ "$(cat "$dest.stamp" 2>/dev/null)" != "$(basename "$deb")" ]; then
        log "unpacking $(basename "$deb")"
        rm -rf "$dest" "$dest.stamp"
        mkdir -p "$dest"
        dpkg-deb -x "$deb" "$dest"
        basename "$deb" >"$dest.stamp"
    fi
done

# Hypervisor: decompress once (QEMU -kernel with multiboot needs the plain ELF).
XEN_GZ=$RIG_CACHE/root/xen-hypervisor-4.17-amd64/boot/xen-4.17-amd64.gz
[ -f "$XEN_GZ" ] || die "$XEN_GZ missing from the hypervisor package"
if [ ! -s "$RIG_CACHE/xen.elf" ] || [ "$XEN_GZ" -nt "$RIG_CACHE/xen.elf" ]; then
    zcat "$XEN_GZ" >"$RIG_CACHE/xen.elf.tmp"
    mv "$RIG_CACHE/xen.elf.tmp" "$RIG_CACHE/xen.elf"
fi

# dom0 kernel.
KROOT=$RIG_CACHE/root/$KPKG
KVER=${KPKG#linux-image-}
[ -f "$KROOT/boot/vmlinuz-$KVER" ] || die "no /boot/vmlinuz-$KVER in $KPKG"
ln -sfn "root/$KPKG/boot/vmlinuz-$KVER" "$RIG_CACHE/vmlinuz"
echo "$KVER" >"$RIG_CACHE/kernel-version"

# Host libraries for the Xen tools: everything ldd resolves comes from the host, so anything
# "not found" must be installed there (libxen-dev pulls most of them in).
XBIN=$RIG_CACHE/root/xen-utils-4.17/usr/lib/xen-4.17/bin
missing=$(for b in xl xenstored xenconsoled xenconsole xen-init-dom0 libxl-save-helper xenstore-control; do
              ldd "$XBIN/$b" 2>/dev/null | awk '/not found/ {print $1}'
          done
          for b in "$RIG_CACHE"/root/xenstore-utils/usr/bin/*; do
              [ -L "$b" ] || ldd "$b" 2>/dev/null | awk '/not found/ {print $1}'
          done | sort -u)
if [ -n "$missing" ]; then
    die "the Xen tools need host libraries that are missing: $(echo $missing)
    (install libxen-dev, which pulls in libxenmisc4.17 libxenstore4 ..., and libyajl2)"
fi

log "ready in $RIG_CACHE (kernel $KVER)"
