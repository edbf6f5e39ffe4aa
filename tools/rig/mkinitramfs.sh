#!/bin/bash
# Build the dom0 initramfs for the Xen rig.
#
# It is made of two gzipped cpio archives, concatenated (Linux unpacks them in order, later
# files win):
#
#   1. the BASE archive, cached as $RIG_CACHE/base.cpio.gz: busybox, the Xen tools, host
#      binaries the hotplug scripts need, their shared libraries, /etc/xen, the kernel modules.
#      It takes a few seconds to build, so it is rebuilt only when its inputs change (the
#      unpacked packages, the host binaries and libraries, this script).
#   2. a small PROJECT archive, built on every run: /init (dom0-init.sh), /etc/rig.conf (what
#      init should do), /xenkit/build/guest/*.elf, /xenkit/build/<host programs>,
#      /xenkit/examples/**, /xenkit/tests/e2e/**, and optionally another xenstored.
#
# Usage: tools/rig/mkinitramfs.sh --out FILE [--xenstored PATH] [--xenstored-args ARGS]
#                                 [--scenario-timeout SECS] [SCENARIO...]
# Environment: RIG_CACHE (cache dir, as fetch.sh), BUILD (build dir, default build),
#              RIG_HOST_PROGS (host programs to include, default: executables directly in $BUILD).
# Run tools/rig/fetch.sh first.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RIG=$ROOT/tools/rig
RIG_CACHE=${RIG_CACHE:-$ROOT/.rig-cache}
RIG_CACHE=$(cd "$RIG_CACHE" && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

log() { printf 'rig-initramfs: %s\n' "$*" >&2; }
die() { printf 'rig-initramfs: error: %s\n' "$*" >&2; exit 1; }

OUT=
XENSTORED=
XENSTORED_ARGS=
SCENARIO_TIMEOUT=120
SCENARIOS=()
while [ $# -gt 0 ]; do
    case $1 in
        --out) OUT=$2; shift 2 ;;
        --xenstored) XENSTORED=$2; shift 2 ;;
        --xenstored-args) XENSTORED_ARGS=$2; shift 2 ;;
        --scenario-timeout) SCENARIO_TIMEOUT=$2; shift 2 ;;
        -*) die "unknown option $1" ;;
        *) SCENARIOS+=("$1"); shift ;;
    esac
done
[ -n "$OUT" ] || die "--out FILE is required"
[ -f "$RIG_CACHE/kernel-version" ] || die "run tools/rig/fetch.sh first (no $RIG_CACHE/kernel-version)"

KVER=$(cat "$RIG_CACHE/kernel-version")
PKGROOT=$RIG_CACHE/root
XENBIN=/usr/lib/xen-4.17/bin            # where Debian puts the tools; xl has it compiled in
MODDIR=$PKGROOT/linux-image-$KVER/lib/modules/$KVER

# Modules to load in dom0, in this order; their dependencies are loaded first (resolved below
# from each .ko's .modinfo, since the package has no modules.dep and the host may lack kmod).
# virtio_pci + virtio-rng give dom0 entropy from QEMU's virtio-rng-pci: without it every
# `xl create` waits ~3.5 s for random bytes until the crng initialises (100+ s after boot).
WANT_MODULES=(xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-blkback xen-netback
              loop llc stp bridge tun virtio_pci virtio-rng)
XEN_TOOLS=(xl xenstored xenconsoled xenconsole xen-init-dom0 libxl-save-helper xenstore-control
           xentop)
HOST_TOOLS=(/usr/bin/bash /usr/bin/stat /usr/bin/readlink /usr/bin/flock)

# usr_path PATH: PATH in the initramfs' merged-/usr layout (/lib/x -> /usr/lib/x). The project
# archive must never contain a real /lib, /lib64, /bin or /sbin directory: unpacked over the
# base archive it would replace the symlink, and with it everything behind it.
usr_path() {
    case $1 in
        /lib/*|/lib64/*|/bin/*|/sbin/*) echo "/usr$1" ;;
        *) echo "$1" ;;
    esac
}

# copy_with_libs STAGE FILE [DEST]: copy FILE to STAGE/DEST (default: same path) plus every
# shared library ldd lists for it, at the path ldd reports (in the merged-/usr layout).
copy_with_libs() {
    local stage=$1 file=$2 dest lib
    dest=$(usr_path "${3:-$2}")
    mkdir -p "$stage/$(dirname "$dest")"
    cp -L "$file" "$stage/$dest"
    # A static binary makes ldd exit 1 ("not a dynamic executable"): that's fine.
    for lib in $(ldd "$file" 2>/dev/null | awk '/not found/ {print "MISSING:" $1; next}
                                               /=>/ {print $3; next}
                                               /^[ \t]*\// {print $1}'); do
        case $lib in
            MISSING:*) die "$file needs ${lib#MISSING:}, which is not installed on this host" ;;
        esac
        dest=$(usr_path "$lib")
        if [ ! -e "$stage$dest" ]; then
            mkdir -p "$stage$(dirname "$dest")"
            cp -L "$lib" "$stage$dest"
        fi
    done
}

# make_cpio DIR FILE: gzipped newc archive of DIR, owned by root, reproducible order.
make_cpio() {
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6 -n >"$2"
}

# Resolve module dependencies: prints module file paths (relative to $MODDIR) in load order.
declare -A MOD_PATH=() MOD_DONE=() BUILTIN=()
index_modules() {
    local f n
    # ${f##*/} rather than basename: thousands of files, a fork each would take seconds.
    while IFS= read -r f; do
        n=${f##*/}; n=${n%%.ko*}; n=${n//-/_}
        MOD_PATH[$n]=${f#"$MODDIR"/}
    done < <(find "$MODDIR/kernel" -name '*.ko*')
    while IFS= read -r f; do
        n=${f##*/}; n=${n%%.ko*}; n=${n//-/_}
        BUILTIN[$n]=1
    done <"$MODDIR/modules.builtin"
}
resolve_module() {
    local n=${1//-/_} dep deps
    [ -z "${MOD_DONE[$n]:-}" ] || return 0
    MOD_DONE[$n]=1
    [ -z "${BUILTIN[$n]:-}" ] || return 0      # built into the kernel: nothing to load
    [ -n "${MOD_PATH[$n]:-}" ] || die "kernel $KVER has no module $1 (neither .ko nor built in)"
    case ${MOD_PATH[$n]} in *.ko) ;; *) die "compressed module ${MOD_PATH[$n]}: not supported" ;; esac
    # .modinfo is a list of NUL-terminated key=value strings; depends= names the prerequisites.
    deps=$(tr '\0' '\n' <"$MODDIR/${MOD_PATH[$n]}" | sed -n 's/^depends=//p' | head -n1)
    for dep in ${deps//,/ }; do
        resolve_module "$dep"
    done
    echo "${MOD_PATH[$n]}"
}

# ------------------------------------------------------------------------------------------
# 1. The base archive.
BASE=$RIG_CACHE/base.cpio.gz
# Inputs: this script, the unpacked packages, the host binaries and their libraries.
base_inputs() {
    sha256sum "$0"
    cat "$PKGROOT"/*.stamp
    command -v busybox
    local f
    for f in "$(command -v busybox)" "${HOST_TOOLS[@]}" "$PKGROOT/xen-utils-4.17$XENBIN/xl"; do
        ls -lL --time-style=+%s "$f"
        ldd "$f" 2>/dev/null | awk '/=>/ {print $3}' | xargs -r ls -lL --time-style=+%s
    done
}
BASE_KEY=$(base_inputs | sha256sum | cut -d' ' -f1)

if [ -s "$BASE" ] && [ "$(cat "$BASE.key" 2>/dev/null)" = "$BASE_KEY" ]; then
    log "base archive up to date"
else
    log "building base archive"
    STAGE=$(mktemp -d "$RIG_CACHE/stage.XXXXXX")
    trap 'rm -rf "$STAGE"' EXIT
    S=$STAGE
    # Merged /usr like Debian 12, so library paths from the host's ldd are valid as they are.
    mkdir -p "$S"/usr/{bin,sbin,lib,lib64} "$S"/{dev,proc,sys,tmp,root,run,etc,mnt}
    ln -s usr/bin "$S/bin"; ln -s usr/sbin "$S/sbin"; ln -s usr/lib "$S/lib"; ln -s usr/lib64 "$S/lib64"
    chmod 1777 "$S/tmp"

    # busybox and its applets (busybox-static: no libraries).
    BB=$(command -v busybox) || die "busybox not found (install busybox-static)"
    ldd "$BB" >/dev/null 2>&1 && die "$BB is dynamically linked: install busybox-static"
    cp "$BB" "$S/usr/bin/busybox"
    for app in $("$BB" --list-full); do
        app=${app#/}
        case $app in bin/*) app=usr/$app ;; sbin/*) app=usr/$app ;; esac
        [ -e "$S/$app" ] || ln -s /usr/bin/busybox "$S/$app"
    done

    # Host tools the hotplug scripts rely on (bash scripts using GNU stat/readlink/flock).
    for t in "${HOST_TOOLS[@]}"; do
        [ -x "$t" ] || die "$t not found on the host"
        rm -f "$S/usr/bin/$(basename "$t")"
        copy_with_libs "$S" "$t" "/usr/bin/$(basename "$t")"
    done

    # Xen tools, at Debian's paths (xl finds libxl-save-helper by its compiled-in path).
    for t in "${XEN_TOOLS[@]}"; do
        copy_with_libs "$S" "$PKGROOT/xen-utils-4.17$XENBIN/$t" "$XENBIN/$t"
    done
    # xenstore-read/-write/... are hard links of one binary in xenstore-utils.
    for t in "$PKGROOT"/xenstore-utils/usr/bin/xenstore*; do
        [ -L "$t" ] && continue     # xenstore-control: a wrapper symlink; we have the real one
        copy_with_libs "$S" "$t" "/usr/bin/$(basename "$t")"
    done
    ln -sf "$XENBIN/xenstore-control" "$S/usr/bin/xenstore-control"
    for t in xl xenstored xenconsoled xenconsole xen-init-dom0 xentop; do
        ln -sf "$XENBIN/$t" "$S/usr/sbin/$t"
    done
    # glibc dlopen()s libgcc_s for pthread_cancel (xl uses it): ldd cannot see that one.
    # Without it, xl aborts with "libgcc_s.so.1 must be installed for pthread_cancel to work".
    # (awk reads to the end: an early exit would kill ldconfig with SIGPIPE, and pipefail
    # would then end this script without a word.)
    GCC_S=$(ldconfig -p | awk '/libgcc_s\.so\.1 .*x86-64/ && !f { print $NF; f = 1 }')
    [ -n "$GCC_S" ] || die "libgcc_s.so.1 not found on the host (package libgcc-s1)"
    copy_with_libs "$S" "$GCC_S"

    # /etc/xen: hotplug scripts and xl.conf.
    mkdir -p "$S/etc/xen"
    cp -a "$PKGROOT/xen-utils-common/etc/xen/scripts" "$S/etc/xen/"
    cp "$PKGROOT/xen-utils-common/etc/xen/xl.conf" "$S/etc/xen/"

    # Kernel modules, flat in /lib/modules/rig/, plus the load order.
    index_modules
    mkdir -p "$S/usr/lib/modules/rig"
    : >"$S/usr/lib/modules/rig/order"
    for m in "${WANT_MODULES[@]}"; do
        resolve_module "$m"
    done | while IFS= read -r rel; do
        cp "$MODDIR/$rel" "$S/usr/lib/modules/rig/"
        basename "$rel" >>"$S/usr/lib/modules/rig/order"
    done

    # Directories the tools expect, and the /dev symlinks the hotplug scripts use (devtmpfs
    # does not create them; without them the block script spins and xl create fails with
    # "unable to add disk devices").
    mkdir -p "$S"/var/run/{xen,xenstored,xen-hotplug} "$S"/var/lib/{xen,xenstored} \
             "$S"/var/log/xen/console "$S"/var/lock
    mkdir -p "$S/etc/rig"
    echo "root:x:0:0:root:/root:/bin/sh" >"$S/etc/passwd"
    echo "root:x:0:" >"$S/etc/group"
    echo "dom0" >"$S/etc/hostname"

    make_cpio "$S" "$BASE.tmp"
    mv "$BASE.tmp" "$BASE"
    echo "$BASE_KEY" >"$BASE.key"
    rm -rf "$STAGE"
    trap - EXIT
    log "base archive: $(stat -c %s "$BASE") bytes"
fi

# ------------------------------------------------------------------------------------------
# 2. The project archive.
P=$(mktemp -d "${TMPDIR:-/tmp}/rig-proj.XXXXXX")
trap 'rm -rf "$P"' EXIT

install -m 0755 "$RIG/dom0-init.sh" "$P/init"
X=$P/xenkit
mkdir -p "$X/build/guest" "$X/tests" "$X/examples"

shopt -s nullglob
for f in "$BUILD"/guest/*.elf; do
    cp "$f" "$X/build/guest/"
done
# Host programs: the Makefile passes HOST_PROGS; by hand, take the executables in $BUILD/.
if [ -n "${RIG_HOST_PROGS+x}" ]; then
    progs=$RIG_HOST_PROGS
else
    progs=$(find "$BUILD" -maxdepth 1 -type f -perm -u+x 2>/dev/null || true)
fi
for f in $progs; do
    case $f in /*) ;; *) f=$ROOT/$f ;; esac
    [ -f "$f" ] || die "host program $f does not exist (build it first)"
    copy_with_libs "$P" "$f" "/xenkit/build/$(basename "$f")"
done
# Configs and scenarios (cfg files only from examples/: the sources stay out of dom0).
(cd "$ROOT" && find examples -name '*.cfg' -print0 | cpio -p0dm --quiet "$X")
cp -a "$ROOT/tests/e2e" "$X/tests/"
shopt -u nullglob

# Another xenstored (e.g. our own) instead of Debian's.
if [ -n "$XENSTORED" ]; then
    [ -x "$XENSTORED" ] || die "--xenstored $XENSTORED is not an executable file"
    copy_with_libs "$P" "$XENSTORED" /xenkit/rig/xenstored
    XS_BIN=/xenkit/rig/xenstored
else
    XS_BIN=$XENBIN/xenstored
    [ -n "$XENSTORED_ARGS" ] || XENSTORED_ARGS="--pid-file /var/run/xenstored.pid"
fi

# A Linux domU, only for scenarios whose file says "# rig: linux-domu" (it adds ~9 MB):
# /xenkit/rig/domu/vmlinuz is dom0's own kernel (Debian's runs as a PVH domU too) and
# /xenkit/rig/domu/initrd.gz a tiny busybox initramfs with domu-init.sh as /init and the
# frontend modules (the rest of what a PVH guest needs, hvc0 and xenbus, is built in).
DOMU_MODULES=(xen-blkfront xen-netfront)
need_domu=
for s in "${SCENARIOS[@]}"; do
    f=$ROOT/tests/e2e/scenarios/$s.sh
    [ ! -f "$f" ] || ! grep -q '^# rig: linux-domu' "$f" || need_domu=1
done
if [ -n "$need_domu" ]; then
    D=$P/domu-root
    mkdir -p "$D"/{bin,sbin,proc,sys,dev,tmp,modules} "$X/rig/domu"
    BB=$(command -v busybox) || die "busybox not found (install busybox-static)"
    cp "$BB" "$D/bin/busybox"
    for app in $("$BB" --list); do
        [ -e "$D/bin/$app" ] || ln -s busybox "$D/bin/$app"
    done
    install -m 0755 "$RIG/domu-init.sh" "$D/init"
    # The kernel runs /sbin/poweroff on the toolstack's shutdown request; with a shell as init,
    # busybox's poweroff (which signals init) would do nothing. A usermode helper's output goes
    # nowhere: hence >/dev/console.
    printf '#!/bin/sh\necho "DOMU shutdown requested" >/dev/console\nsync\nexec /bin/busybox poweroff -f\n' >"$D/sbin/poweroff"
    chmod 0755 "$D/sbin/poweroff"
    [ ${#MOD_PATH[@]} -gt 0 ] || index_modules
    for m in "${DOMU_MODULES[@]}"; do
        resolve_module "$m"
    done | while IFS= read -r rel; do
        cp "$MODDIR/$rel" "$D/modules/"
        basename "$rel" >>"$D/modules/order"
    done
    make_cpio "$D" "$X/rig/domu/initrd.gz"
    rm -rf "$D"
    cp "$(readlink -f "$RIG_CACHE/vmlinuz")" "$X/rig/domu/vmlinuz"
    log "linux domU: initrd $(stat -c %s "$X/rig/domu/initrd.gz") bytes, kernel $(stat -c %s "$X/rig/domu/vmlinuz") bytes"
fi

# What init does; sourced by /init (values quoted for the shell).
mkdir -p "$P/etc/rig"
{
    printf 'RIG_SCENARIOS=%q\n' "${SCENARIOS[*]}"
    printf 'RIG_XENSTORED=%q\n' "$XS_BIN"
    printf 'RIG_XENSTORED_ARGS=%q\n' "$XENSTORED_ARGS"
    printf 'RIG_SCENARIO_TIMEOUT=%q\n' "$SCENARIO_TIMEOUT"
} >"$P/etc/rig/rig.conf"

make_cpio "$P" "$P.cpio.gz"
mkdir -p "$(dirname "$OUT")"
cat "$BASE" "$P.cpio.gz" >"$OUT"
rm -f "$P.cpio.gz"
