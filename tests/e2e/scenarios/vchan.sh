#!/bin/bash
# vchan: two unikernels talk through vchan (vchan/guest_vchan.h, examples/vchan-echo): a
# server/client pair (vchan_lib.sh's `pair`) with in-page rings (orders 10/11), then one with a
# page each way (12/12). vchan-big.sh does the same with 64 KiB and 1 MiB rings, vchan-multi.sh
# one server with two clients; 11/10 and every other order pair: tests/unit, tests/interop.
# The amounts are small (128-256 KiB a pair) and the pairs split over two scenarios so that
# each fits the rig's 120 s per scenario even on a busy 2-core machine (under a load of 9, an
# `xl create` took ~8 s and a message round trip between two pinned guests ~5 ms).
# Runs with whatever xenstored the rig starts (Debian's C xenstored by default; also in
# VXS_SCENARIOS, tests/e2e/build.mk).
set -u
. tests/e2e/lib.sh
. tests/e2e/vchan_lib.sh
require_file "$VCHAN_ELF" "$VCHAN_SCFG" "$VCHAN_CCFG"

export VCHAN_XL_EXTRA='cpus="0"'
pair 10,11 131072
pair 12,12 262144
finish
