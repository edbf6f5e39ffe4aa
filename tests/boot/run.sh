#!/usr/bin/env bash
# Boot the guest images on bare QEMU (no Xen) through their multiboot header, the way
# `qemu-system-x86_64 -kernel build/guest/hello.elf` or grub would, and check what they print
# on the serial port. A quick test of the boot stub, traps and shutdown path that needs no
# hypervisor; the Xen rig (tools/rig) proves the PVH path.
#
#   tests/boot/run.sh BUILD_DIR
#
# isa-debug-exit turns the kernel's shutdown into QEMU's exit status: poweroff -> 1, crash -> 3.
set -euo pipefail

build=${1:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

# boot NAME IMAGE CMDLINE EXPECTED_EXIT PATTERN...
boot() {
    local name=$1 image=$2 cmdline=$3 want=$4
    shift 4
    local log="$work/$name.serial" rc=0
    timeout 60 qemu-system-x86_64 -machine q35 -accel tcg -cpu qemu64 -m 64 \
        -display none -monitor none -no-reboot -serial "file:$log" \
        -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -kernel "$image" -append "$cmdline" </dev/null || rc=$?
    local ok=1 p
    [ "$rc" = "$want" ] || ok=0
    for p in "$@"; do
        grep -qF -- "$p" "$log" || ok=0
    done
    if [ $ok = 1 ]; then
        echo "boot: PASS $name"
        passed=$((passed + 1))
    else
        echo "boot: FAIL $name (exit $rc, wanted $want; expected: $*)"
        sed 's/^/    | /' "$log" | tail -n 30
        failed=$((failed + 1))
    fi
}

g="$build/guest"
boot hello "$g/hello.elf" "greeting=bare" 1 "Hello from xenkit!" "greeting=bare" \
    "booted via multiboot without Xen"
boot fault-pf "$g/fault.elf" "fault=pf" 3 "*** EXCEPTION vector=14" "cr2=0x0000000000000000"
boot fault-de "$g/fault.elf" "fault=de" 3 "*** EXCEPTION vector=0 " "rip=0x"
boot fault-ud "$g/fault.elf" "fault=ud" 3 "*** EXCEPTION vector=6 " "rip=0x"
boot fault-stack "$g/fault.elf" "fault=stack" 3 "*** EXCEPTION vector=8 "
boot fault-panic "$g/fault.elf" "fault=panic" 3 "*** PANIC: requested panic"
boot fault-assert "$g/fault.elf" "fault=assert" 3 "*** PANIC: assertion failed: zero == 1"
boot bigout "$g/bigout.elf" "" 1 "bigout 1023 " "bigout done"
boot memtest "$g/memtest.elf" "" 1 "xenkit: memory: 63 MiB RAM in 2 ranges (from multiboot mmap)" \
    "memtest ok: 3 rounds"
boot memtest-oom "$g/memtest.elf" "memtest.oom" 3 "*** PANIC: out of memory: malloc(1048576) with"
boot memtest-double-free "$g/memtest.elf" "memtest.double-free" 3 "*** PANIC: free(0x" \
    "double free"

echo "boot: $passed passed, $failed failed"
[ "$failed" = 0 ]
