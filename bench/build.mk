# bench/: benchmarks, run one after the other by `make bench` (BENCH_PROGS: build/<prog>, run
# with BENCH_ARGS_<prog>).

# The versioned store (pack file + tree layer) against SQLite in WAL mode: commits/s in each
# durability mode, reads, bytes per commit, directory scaling, open time with 1,000,000
# commits. Its files go to a temporary directory under build/ (a real disk; STORE_BENCH_ARGS
# may say --dir DIR, or --quick for a short smoke run).
HOST_PROG_NAMES += store_bench
HOST_PROG_SRCS_store_bench := bench/store_bench.c bench/store_bench_util.c \
    bench/store_bench_engines.c $(STORE_HEAP_SRCS) $(STORE_TREE_SRCS)
HOST_PROG_LIBS_store_bench := $(STORE_HEAP_LIBS) $(STORE_TREE_LIBS) -lsqlite3
BENCH_PROGS += $(BUILD)/store_bench
BENCH_ARGS_store_bench = --dir $(BUILD) $(STORE_BENCH_ARGS)

# vchan: our dom0 binding against the real libxenvchan, same run, same LD_PRELOAD shim
# (tests/shim/); build/vchan-bench is a wrapper that starts xenstored under the shim and runs
# build/vchan_bench (bench/run.sh).
HOST_PROG_NAMES += vchan_bench
HOST_PROG_SRCS_vchan_bench := bench/vchan_bench.c $(VCHAN_DOM0_SRCS)
HOST_PROG_LIBS_vchan_bench := -lxenvchan $(VCHAN_DOM0_LIBS)
BENCH_PROGS += $(BUILD)/vchan-bench
$(BUILD)/vchan-bench: bench/run.sh $(BUILD)/vchan_bench $(BUILD)/tests/shim/xkshim.so
	$(Q)printf '#!/bin/sh\nexec "%s" "%s" "$$@"\n' "$(abspath bench/run.sh)" "$(abspath $(BUILD))" >$@
	$(Q)chmod +x $@

# xenstore daemons on their Unix socket, same run: Debian's C xenstored and oxenstored (under
# the LD_PRELOAD shim, oxenstored in a private mount namespace) against build/vxenstored with
# --sync batch and --sync none; build/xenstored-bench is a wrapper that starts them all and
# runs build/xenstored_bench (bench/xenstored_run.sh). XENSTORED_BENCH_ARGS="--quick" for a
# short smoke run.
HOST_PROG_NAMES += xenstored_bench
HOST_PROG_SRCS_xenstored_bench := bench/xenstored_bench.c bench/xenstored_client.c \
                                  bench/xenstored_workloads.c bench/xenstored_mix.c \
                                  bench/xenstored_replay.c
HOST_PROG_LIBS_xenstored_bench := -pthread -lm
BENCH_PROGS += $(BUILD)/xenstored-bench
BENCH_ARGS_xenstored-bench = $(XENSTORED_BENCH_ARGS)
$(BUILD)/xenstored-bench: bench/xenstored_run.sh $(BUILD)/xenstored_bench $(BUILD)/vxenstored \
                          $(BUILD)/tests/shim/xkshim.so
	$(Q)printf '#!/bin/sh\nexec "%s" "%s" "$$@"\n' "$(abspath bench/xenstored_run.sh)" "$(abspath $(BUILD))" >$@
	$(Q)chmod +x $@
