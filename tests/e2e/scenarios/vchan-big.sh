#!/bin/bash
# vchan-big: as vchan.sh, with bigger rings: an in-page left ring (order 11) with a 64 KiB
# right ring (16), then 1 MiB each way (20/20, 256 grants a ring). 256 KiB a pair, so that
# it fits the rig's 120 s per scenario on a busy machine (see vchan.sh).
# Runs with whatever xenstored the rig starts (Debian's C xenstored by default; also in
# VXS_SCENARIOS, tests/e2e/build.mk).
set -u
. tests/e2e/lib.sh
. tests/e2e/vchan_lib.sh
require_file "$VCHAN_ELF" "$VCHAN_SCFG" "$VCHAN_CCFG"

export VCHAN_XL_EXTRA='cpus="0"'
pair 11,16 262144
pair 20,20 262144
finish
