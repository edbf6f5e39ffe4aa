# tests/unit/: host unit tests of lib/ with cmocka. See tests/unit/README.md.
#
# The lib/ sources are compiled for the host exactly as they are, but as freestanding code
# that sees only lib/include and gcc's own headers, and with tests/unit/libc_rename.h
# force-included so that memcpy & co. become xk_memcpy & co. and do not clash with glibc (or
# with ASan's interceptors). The top Makefile's CFLAGS_<source> would also reach the guest
# build, so these flags are target-specific variables of the host objects only.
UNIT_HOST_GCC_INCLUDE := $(shell $(HOST_CC) -print-file-name=include)
UNIT_LIBC_HOST_FLAGS  := -ffreestanding -nostdinc -isystem $(UNIT_HOST_GCC_INCLUDE) \
                         -I lib/include -include tests/unit/libc_rename.h

$(foreach s,$(LIBC_SRCS),$(eval \
  $(BUILD)/host/obj/$(basename $(s)).o $(BUILD)/host/san/$(basename $(s)).o: \
    CFLAGS_$(s) += $(UNIT_LIBC_HOST_FLAGS)))

# Every test links all of lib/ (it is small), plus fake_kernel.c, which provides the kernel
# hooks (console capture, crash by longjmp), and ref_libc.c, which wraps glibc for reference
# results. Those two are ordinary host code.
UNIT_LIBC_TESTS := test_string test_strtol test_printf test_panic
UNIT_TEST_NAMES += $(UNIT_LIBC_TESTS)
$(foreach t,$(UNIT_LIBC_TESTS),$(eval \
  UNIT_TEST_SRCS_$(t) := tests/unit/$(t).c $(LIBC_SRCS) tests/unit/fake_kernel.c \
                         tests/unit/ref_libc.c)$(eval \
  UNIT_TEST_LIBS_$(t) := -lcmocka))

# Pure protocol cores from the kernel, tested against simulated peers.
UNIT_TEST_NAMES += test_console_ring
UNIT_TEST_SRCS_test_console_ring := tests/unit/test_console_ring.c xen/console_ring.c
UNIT_TEST_LIBS_test_console_ring := -lcmocka

# The xenstore wire codec (both directions, hostile input) and the guest's xenstore ring.
UNIT_TEST_NAMES += test_xs_codec test_xenbus_ring
UNIT_TEST_SRCS_test_xs_codec := tests/unit/test_xs_codec.c $(XS_CODEC_SRCS)
UNIT_TEST_LIBS_test_xs_codec := -lcmocka
UNIT_TEST_SRCS_test_xenbus_ring := tests/unit/test_xenbus_ring.c xen/xenbus_ring.c
UNIT_TEST_LIBS_test_xenbus_ring := -lcmocka

# Grant-table bookkeeping and the foreign-map window's slots (xen/gnttab_core.c,
# xen/gntmap_slots.c), with the test playing Xen.
UNIT_TEST_NAMES += test_gnttab
UNIT_TEST_SRCS_test_gnttab := tests/unit/test_gnttab.c xen/gnttab_core.c xen/gntmap_slots.c
UNIT_TEST_LIBS_test_gnttab := -lcmocka

# The heap (lib/page_alloc.c, lib/heap.c, lib/malloc.c are in LIBC_SRCS): the page allocator
# and malloc on a host buffer.
UNIT_MEM_TESTS := test_page_alloc test_malloc
UNIT_TEST_NAMES += $(UNIT_MEM_TESTS)
$(foreach t,$(UNIT_MEM_TESTS),$(eval \
  UNIT_TEST_SRCS_$(t) := tests/unit/$(t).c $(LIBC_SRCS) tests/unit/fake_kernel.c \
                         tests/unit/ref_libc.c)$(eval \
  UNIT_TEST_LIBS_$(t) := -lcmocka))

UNIT_TEST_NAMES += test_evtchn_2l test_pvclock
UNIT_TEST_SRCS_test_evtchn_2l := tests/unit/test_evtchn_2l.c xen/evtchn_2l.c
UNIT_TEST_LIBS_test_evtchn_2l := -lcmocka
UNIT_TEST_SRCS_test_pvclock := tests/unit/test_pvclock.c xen/pvclock.c
UNIT_TEST_LIBS_test_pvclock := -lcmocka

# The xenbus client against a fake xenstored serving the ring page (kernel services faked
# in the test itself).
UNIT_TEST_NAMES += test_xenbus_client
UNIT_TEST_SRCS_test_xenbus_client := tests/unit/test_xenbus_client.c xen/xenbus.c \
    xen/xenbus_watch.c xen/xenbus_nodes.c xen/xenbus_xact.c xen/xenbus_state.c \
    xen/xenbus_ring.c $(XS_CODEC_SRCS)
UNIT_TEST_LIBS_test_xenbus_client := -lcmocka
# The memory map parser (plain host code, like the console ring).
UNIT_TEST_NAMES += test_memmap
UNIT_TEST_SRCS_test_memmap := tests/unit/test_memmap.c arch/x86_64/memmap.c
UNIT_TEST_LIBS_test_memmap := -lcmocka

# The versioned store's object heap (xenstore/store_*.c, STORE_HEAP_SRCS in xenstore/build.mk).
UNIT_TEST_NAMES += test_store_memobj
UNIT_TEST_SRCS_test_store_memobj := tests/unit/test_store_memobj.c tests/unit/store_checks.c \
    $(STORE_HEAP_SRCS)
UNIT_TEST_LIBS_test_store_memobj := -lcmocka $(STORE_HEAP_LIBS)
# The pure part of the guest's vchan setup (vchan/guest_hs.c).
UNIT_TEST_NAMES += test_vchan_guest_hs
UNIT_TEST_SRCS_test_vchan_guest_hs := tests/unit/test_vchan_guest_hs.c vchan/guest_hs.c
UNIT_TEST_LIBS_test_vchan_guest_hs := -lcmocka
UNIT_TEST_NAMES += test_store_pack
UNIT_TEST_SRCS_test_store_pack := tests/unit/test_store_pack.c tests/unit/store_checks.c \
    $(STORE_HEAP_SRCS)
UNIT_TEST_LIBS_test_store_pack := -lcmocka $(STORE_HEAP_LIBS)
UNIT_TEST_NAMES += test_store_pack_gc
UNIT_TEST_SRCS_test_store_pack_gc := tests/unit/test_store_pack_gc.c tests/unit/store_checks.c \
    $(STORE_HEAP_SRCS)
UNIT_TEST_LIBS_test_store_pack_gc := -lcmocka $(STORE_HEAP_LIBS)
# BATCH as a pipelined group commit: the sync thread on a backend whose syncs the test holds.
UNIT_TEST_NAMES += test_store_pack_sync
UNIT_TEST_SRCS_test_store_pack_sync := tests/unit/test_store_pack_sync.c \
    tests/unit/store_io_gate.c $(STORE_HEAP_SRCS)
UNIT_TEST_LIBS_test_store_pack_sync := -lcmocka $(STORE_HEAP_LIBS)
# The versioned store's tree/commit layer (STORE_TREE_SRCS in xenstore/build.mk) on the
# in-memory heap: unit tests, property tests against a model, and the git export.
STORE_TREE_TEST_SRCS := xenstore/store_hash.c xenstore/store_memobj.c $(STORE_TREE_SRCS)
UNIT_TEST_NAMES += test_store_tree
UNIT_TEST_SRCS_test_store_tree := tests/unit/test_store_tree.c $(STORE_TREE_TEST_SRCS)
UNIT_TEST_LIBS_test_store_tree := -lcmocka $(STORE_TREE_LIBS)
UNIT_TEST_NAMES += test_store_tree_history
UNIT_TEST_SRCS_test_store_tree_history := tests/unit/test_store_tree_history.c $(STORE_TREE_TEST_SRCS)
UNIT_TEST_LIBS_test_store_tree_history := -lcmocka $(STORE_TREE_LIBS)
# Transactions with C xenstored 4.17's rule (live reads, first-access versions, EAGAIN).
UNIT_TEST_NAMES += test_store_txn
UNIT_TEST_SRCS_test_store_txn := tests/unit/test_store_txn.c $(STORE_TREE_TEST_SRCS)
UNIT_TEST_LIBS_test_store_txn := -lcmocka $(STORE_TREE_LIBS)
# The store's fast paths: WRITE/BATCH updates answered at the flush, put_added, the name-hash
# memo, a transaction's found nodes after live moved (on a pack and on the in-memory heap).
UNIT_TEST_NAMES += test_store_speed_paths
UNIT_TEST_SRCS_test_store_speed_paths := tests/unit/test_store_speed_paths.c $(STORE_HEAP_SRCS) \
    $(STORE_TREE_SRCS)
UNIT_TEST_LIBS_test_store_speed_paths := -lcmocka $(STORE_HEAP_LIBS) $(STORE_TREE_LIBS)
# The pack file's crash test: a child committing in ALWAYS mode, SIGKILLed 250 times.
UNIT_TEST_NAMES += test_store_crash
UNIT_TEST_SRCS_test_store_crash := tests/unit/test_store_crash.c $(STORE_HEAP_SRCS)
UNIT_TEST_LIBS_test_store_crash := -lcmocka $(STORE_HEAP_LIBS)
# The pack loader's fuzz target replayed over deterministic mutations of a valid pack.
UNIT_TEST_NAMES += test_store_fuzz_replay
UNIT_TEST_SRCS_test_store_fuzz_replay := tests/unit/test_store_fuzz_replay.c \
    tests/fuzz/fuzz_pack_open.c $(STORE_HEAP_SRCS)
UNIT_TEST_LIBS_test_store_fuzz_replay := -lcmocka $(STORE_HEAP_LIBS)

# make soak: the crash test with many more kills (not part of make test).
# make fuzz: the pack loader under libFuzzer for about 60 s (clang; not part of make test).
STORE_SOAK_KILLS ?= 5000
FUZZ_CC   ?= clang
FUZZ_TIME ?= 60
.PHONY: soak fuzz
soak: $(BUILD)/tests/unit/test_store_crash
	STORE_CRASH_KILLS=$(STORE_SOAK_KILLS) $<
$(BUILD)/fuzz/fuzz_pack_open: tests/fuzz/fuzz_pack_open.c $(STORE_HEAP_SRCS) $(BUILD_FLAGS_DEP)
	$(call say,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -DFUZZ_SEED_MAIN -g -O1 -iquote . \
	    -fsanitize=fuzzer,address,undefined -o $@ tests/fuzz/fuzz_pack_open.c \
	    $(STORE_HEAP_SRCS) $(STORE_HEAP_LIBS)
fuzz: $(BUILD)/fuzz/fuzz_pack_open
	$(Q)mkdir -p $(BUILD)/fuzz/corpus
	FUZZ_PACK_SEED_DIR=$(BUILD)/fuzz/corpus $< -max_total_time=$(FUZZ_TIME) \
	    -max_len=4096 -timeout=10 $(BUILD)/fuzz/corpus
UNIT_TEST_NAMES += test_store_prop
UNIT_TEST_SRCS_test_store_prop := tests/unit/test_store_prop.c tests/unit/store_model.c \
    $(STORE_TREE_TEST_SRCS)
UNIT_TEST_LIBS_test_store_prop := -lcmocka $(STORE_TREE_LIBS)
UNIT_TEST_NAMES += test_store_git
UNIT_TEST_SRCS_test_store_git := tests/unit/test_store_git.c $(STORE_TREE_TEST_SRCS)
UNIT_TEST_LIBS_test_store_git := -lcmocka $(STORE_TREE_LIBS)

# The store's halves together: pack GC driven by the tree layer's reachability.
UNIT_TEST_NAMES += test_store_gc_integ
UNIT_TEST_SRCS_test_store_gc_integ := tests/unit/test_store_gc_integ.c $(STORE_HEAP_SRCS) \
                                      $(STORE_TREE_SRCS)
UNIT_TEST_LIBS_test_store_gc_integ := -lcmocka $(STORE_HEAP_LIBS) $(STORE_TREE_LIBS)
# The history queries of vxs and vxenstored's XS_CONTROL history (xenstore/vxs_history*.c):
# formats, paging, commit names and times on an in-memory store, GC on a pack.
UNIT_TEST_NAMES += test_vxs_history
UNIT_TEST_SRCS_test_vxs_history := tests/unit/test_vxs_history.c $(VXS_HISTORY_SRCS) \
                                   $(STORE_HEAP_SRCS) $(STORE_TREE_SRCS)
UNIT_TEST_LIBS_test_vxs_history := -lcmocka $(STORE_HEAP_LIBS) $(STORE_TREE_LIBS)

# The xenstore request parser's fuzz target (tests/fuzz/fuzz_xs_request.c) replayed over
# deterministic mutations of valid request streams; make fuzz also runs it under libFuzzer
# for FUZZ_XS_TIME seconds (as a prerequisite of fuzz, so before the pack loader).
UNIT_TEST_NAMES += test_xs_fuzz_replay
UNIT_TEST_SRCS_test_xs_fuzz_replay := tests/unit/test_xs_fuzz_replay.c \
    tests/fuzz/fuzz_xs_request.c $(XS_CODEC_SRCS)
UNIT_TEST_LIBS_test_xs_fuzz_replay := -lcmocka
FUZZ_XS_TIME ?= 30
$(BUILD)/fuzz/fuzz_xs_request: tests/fuzz/fuzz_xs_request.c $(XS_CODEC_SRCS) $(BUILD_FLAGS_DEP)
	$(call say,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 -iquote . $(XEN_INTERFACE) \
	    -fsanitize=fuzzer,address,undefined -o $@ tests/fuzz/fuzz_xs_request.c $(XS_CODEC_SRCS)
fuzz: fuzz-xs-request
.PHONY: fuzz-xs-request
fuzz-xs-request: $(BUILD)/fuzz/fuzz_xs_request
	$(Q)mkdir -p $(BUILD)/fuzz/corpus-xs
	$< -max_total_time=$(FUZZ_XS_TIME) -max_len=20000 -timeout=10 $(BUILD)/fuzz/corpus-xs

# vxenstored's side of the ring page (xenstore/vxs_ring.c, pure) against our guest's side
# and a hostile guest.
UNIT_TEST_NAMES += test_vxs_ring
UNIT_TEST_SRCS_test_vxs_ring := tests/unit/test_vxs_ring.c xenstore/vxs_ring.c xen/xenbus_ring.c
UNIT_TEST_LIBS_test_vxs_ring := -lcmocka

# The poll loop's spin-before-sleep policy (xenstore/vxs_spin.c, pure).
UNIT_TEST_NAMES += test_vxs_spin
UNIT_TEST_SRCS_test_vxs_spin := tests/unit/test_vxs_spin.c xenstore/vxs_spin.c
UNIT_TEST_LIBS_test_vxs_spin := -lcmocka

# vxenstored's request handling in-process (tests/unit/vxs_harness.c: fake clients, a fake
# hypervisor, the daemon's own files but its poll loop and libxen* door): permissions of
# unprivileged domains, transactions, watches. VXS_HARNESS_SRCS serves every such test.
VXS_HARNESS_SRCS := tests/unit/vxs_harness.c \
    $(filter-out xenstore/vxs_main.c xenstore/vxs_xen.c,$(VXS_SRCS)) $(VXS_HISTORY_SRCS) \
    $(XS_CODEC_SRCS) $(STORE_HEAP_SRCS) $(STORE_TREE_SRCS)
VXS_HARNESS_LIBS := -lcmocka $(STORE_HEAP_LIBS) $(STORE_TREE_LIBS)
# $(eval $(call vxs_harness_test,NAME)): registers tests/unit/NAME.c, built on the harness.
define vxs_harness_test
UNIT_TEST_NAMES += $(1)
UNIT_TEST_SRCS_$(1) := tests/unit/$(1).c $$(VXS_HARNESS_SRCS)
UNIT_TEST_LIBS_$(1) := $$(VXS_HARNESS_LIBS)
endef
$(eval $(call vxs_harness_test,test_vxs_dispatch))
# --sync batch with the pack's sync thread: replies, req_cons and events wait for the sync.
$(eval $(call vxs_harness_test,test_vxs_sync_thread))
UNIT_TEST_SRCS_test_vxs_sync_thread += tests/unit/store_io_gate.c
# The loop's store timer after a restart: the batch's clock releasing a reply means a round now.
$(eval $(call vxs_harness_test,test_vxs_store_poll))
$(eval $(call vxs_harness_test,test_vxs_watch))
# A departed domain: its nodes removed, its perms entries revoked (XSA-322), at RELEASE and
# at start-up for a domain gone while the daemon was down.
$(eval $(call vxs_harness_test,test_vxs_release))
# SET_TARGET's target released (RELEASE) before or after its device model.
$(eval $(call vxs_harness_test,test_vxs_domain_target))
# Ring requests handled again after a restart: TRANSACTION_END, old transaction ids, WATCH.
$(eval $(call vxs_harness_test,test_vxs_replay))
# Ring requests committed before a kill, their reply lost: found done, not applied again.
$(eval $(call vxs_harness_test,test_vxs_ring_replay_done))
# A ring request larger than the ring, cut by a restart: its saved head (vxs_persist_head).
$(eval $(call vxs_harness_test,test_vxs_big_request_restart))
# A reply or watch event cut in rsp[] by a kill: the restart sends exactly its rest.
$(eval $(call vxs_harness_test,test_vxs_ring_partial_restart))
$(eval $(call vxs_harness_test,test_vxs_events_restart))
# A ring's reconnection (XENSTORE_RECONNECT) killed at each point: the table's new entry
# is in the pack before the rings are reset.
$(eval $(call vxs_harness_test,test_vxs_ring_reconnect_restart))
# Socket connections kept by the fd store across a SIGKILL: the journal's restart cases
# (each daemon life a forked child, killed at a chosen recv; the test is keeper and client).
$(eval $(call vxs_harness_test,test_vxs_sock_restart))
UNIT_TEST_SRCS_test_vxs_sock_restart += tests/unit/vxs_sock_restart_util.c
# A plain socket's requests: peeked, taken from the socket after the round's replies (or, as
# the loop runs it, drop_batch answered requests at a time).
$(eval $(call vxs_harness_test,test_vxs_sock_plain))
$(eval $(call vxs_harness_test,test_vxs_perms_unknown))
$(eval $(call vxs_harness_test,test_vxs_ring_wake))
# Quotas with unprivileged domains (nodes, transaction-nodes, per-domain values, features,
# outstanding replies, memory, the write rate limit, watch-event expiry).
$(eval $(call vxs_harness_test,test_vxs_quota))
$(eval $(call vxs_harness_test,test_vxs_quota_memory))
