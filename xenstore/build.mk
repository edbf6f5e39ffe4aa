# xenstore/: the xenstore protocol shared by the guest's xenbus client and (later)
# vxenstored. xs_codec.c is pure (no I/O, no globals): it is linked into every guest kernel
# and built into the host unit tests (tests/unit/build.mk).
XS_CODEC_SRCS := xenstore/xs_codec.c

GUEST_KERNEL_SRCS += $(XS_CODEC_SRCS)

# The versioned store's object heap (host code, for vxenstored in dom0): object names
# (SHA-256 via libcrypto), the in-memory heap, the I/O backends and the pack file. Its tests
# are declared in tests/unit/build.mk.
STORE_HEAP_SRCS := xenstore/store_hash.c xenstore/store_memobj.c xenstore/store_io.c \
                   xenstore/store_pack.c xenstore/store_pack_refs.c \
                   xenstore/store_pack_index.c \
                   xenstore/store_pack_open.c xenstore/store_pack_gc.c \
                   xenstore/store_pack_sync.c xenstore/store_pack_fill.c
STORE_HEAP_LIBS := -lcrypto -pthread

# The versioned store's tree/commit layer (host code, no xenstore protocol knowledge): object
# encodings and cache, working trees with split directories, commits, branches, merges,
# transactions, history, reachability for GC and git export. Needs an objstore (the heap
# above) and zlib for the git export. Tests in tests/unit/build.mk.
STORE_TREE_SRCS := xenstore/store_enc.c xenstore/store_cache.c xenstore/store_tree.c xenstore/store_tree_dir.c \
                   xenstore/store_tree_write.c \
                   xenstore/store_commit.c \
                   xenstore/store_txn.c xenstore/store_txn_kids.c xenstore/store_txn_commit.c \
                   xenstore/store_history.c xenstore/store_git.c
STORE_TREE_LIBS := -lcrypto -lz

# vxs-export-demo: a small history exported as a git repository (or a pack's branch, --db).
HOST_PROG_NAMES += vxs-export-demo
HOST_PROG_SRCS_vxs-export-demo := xenstore/vxs_export_demo.c $(STORE_HEAP_SRCS) \
                                  $(STORE_TREE_SRCS)
HOST_PROG_LIBS_vxs-export-demo := $(STORE_HEAP_LIBS) $(STORE_TREE_LIBS)

# vxenstored: the xenstore daemon on the versioned store (issue 5; first milestone: the Unix
# socket for dom0 clients). Tested by tests/xenstored/run.sh (make test-xenstored).
VXS_SRCS := xenstore/vxs_main.c xenstore/vxs_server.c xenstore/vxs_dispatch.c \
            xenstore/vxs_node.c xenstore/vxs_perms.c xenstore/vxs_watch.c xenstore/vxs_txn.c \
            xenstore/vxs_control.c xenstore/vxs_conn.c xenstore/vxs_domain.c \
            xenstore/vxs_xen.c xenstore/vxs_ring.c xenstore/vxs_ring_partial.c \
            xenstore/vxs_replay_done.c \
            xenstore/vxs_persist.c xenstore/vxs_persist_marks.c \
            xenstore/vxs_events_replay.c \
            xenstore/vxs_opts.c xenstore/vxs_daemon.c xenstore/vxs_quota.c \
            xenstore/vxs_quota_nodes.c xenstore/vxs_quota_wrl.c xenstore/vxs_quota_req.c \
            xenstore/vxs_diag.c xenstore/vxs_ring_wake.c xenstore/vxs_fdstore.c \
            xenstore/vxs_sock.c xenstore/vxs_persist_sock.c xenstore/vxs_spin.c \
            xenstore/vxs_uring.c
# xenctrl.h needs GNU C (anonymous unions): only the file that includes it gets gnu11.
CFLAGS_xenstore/vxs_xen.c := -std=gnu11
HOST_PROG_NAMES += vxenstored
HOST_PROG_SRCS_vxenstored := $(VXS_SRCS) $(XS_CODEC_SRCS) $(STORE_HEAP_SRCS) $(STORE_TREE_SRCS)
HOST_PROG_LIBS_vxenstored := $(STORE_HEAP_LIBS) $(STORE_TREE_LIBS) -lxenctrl -lxenevtchn \
                            -lxengnttab -lxenforeignmemory

.PHONY: test-xenstored
test-xenstored: $(BUILD)/vxenstored
	$(Q)tests/xenstored/run.sh $(BUILD)

# vxs-fdstore: keeps vxenstored's sockets across its restarts where systemd does not (its
# file-descriptor store, FDSTORE=1 / LISTEN_FDS): vxs-fdstore -- vxenstored -N ARGS.
HOST_PROG_NAMES += vxs-fdstore
HOST_PROG_SRCS_vxs-fdstore := xenstore/vxs_fdstore_holder.c

# The history queries shared by vxenstored's XS_CONTROL "history"/"gc" and the vxs CLI
# (issue 5, item 6), and `vxs` itself: log/show/diff/blame/at/export-git/gc, online through
# the daemon's socket or offline on --db DIR (a read-only view of the pack).
VXS_HISTORY_SRCS := xenstore/vxs_history.c xenstore/vxs_history_log.c xenstore/vxs_history_fmt.c
HOST_PROG_SRCS_vxenstored += $(VXS_HISTORY_SRCS)
HOST_PROG_NAMES += vxs
HOST_PROG_SRCS_vxs := xenstore/vxs_cli.c $(VXS_HISTORY_SRCS) $(XS_CODEC_SRCS) \
                      $(STORE_HEAP_SRCS) $(STORE_TREE_SRCS)
HOST_PROG_LIBS_vxs := $(STORE_HEAP_LIBS) $(STORE_TREE_LIBS)
# make test-xenstored runs it too (as a prerequisite, so run.sh's recipe above stays as is).
.PHONY: test-xenstored-history
test-xenstored: test-xenstored-history
test-xenstored-history: $(BUILD)/vxenstored $(BUILD)/vxs
	$(Q)tests/xenstored/history.sh $(BUILD)

# The differential test against Debian's C xenstored 4.17 under the shim (about 10 s) and the
# hostile-input test (about 10 s); make test-xenstored runs both (as prerequisites).
.PHONY: test-xenstored-diff test-xenstored-hostile
test-xenstored: test-xenstored-diff test-xenstored-hostile
test-xenstored-diff: $(BUILD)/vxenstored $(BUILD)/tests/shim/xkshim.so $(BUILD)/vxs-ring-proxy
	$(Q)tests/xenstored/diff.sh $(BUILD)
test-xenstored-hostile: $(BUILD)/vxenstored
	$(Q)tests/xenstored/hostile.sh $(BUILD)

# The SIGKILL restart test (tests/xenstored/killtest.sh, about 25 s): vxs-killwriter, a
# libxenstore client, writes under load while vxenstored is killed and restarted 100+ times
# (the rig's vxs-restart scenario uses it on dom0's ring).
HOST_PROG_NAMES += vxs-killwriter
HOST_PROG_SRCS_vxs-killwriter := tests/xenstored/killwriter.c
HOST_PROG_LIBS_vxs-killwriter := -lxenstore
.PHONY: test-xenstored-kill
test-xenstored: test-xenstored-kill
test-xenstored-kill: $(BUILD)/vxenstored $(BUILD)/vxs-killwriter
	$(Q)tests/xenstored/killtest.sh $(BUILD)
# The same under vxs-fdstore (about 15 s): writers and a watcher on one connection each for
# their whole life, no EOF, no lost or doubled reply, events after every restart.
.PHONY: test-xenstored-kill-fdstore
test-xenstored: test-xenstored-kill-fdstore
test-xenstored-kill-fdstore: $(BUILD)/vxenstored $(BUILD)/vxs-killwriter $(BUILD)/vxs-fdstore
	$(Q)tests/xenstored/killtest_fdstore.sh $(BUILD)

# The SIGKILL restart test over a real ring (tests/xenstored/killtest_ring.sh, about 20 s):
# vxenstored serves dom0's ring and an introduced guest's under the xkshim shim while two
# vxs-ringkill-clients on those ring pages write, read 3 KB values slowly, run transactions
# and watch, and the daemon is killed 110 times.
HOST_PROG_NAMES += vxs-ringkill-client
HOST_PROG_SRCS_vxs-ringkill-client := tests/xenstored/ringkill_client.c
HOST_PROG_LIBS_vxs-ringkill-client := -lxenevtchn
# A guest's xenstore ring behind a Unix socket, for difftest.py's guest connections (diff.sh).
HOST_PROG_NAMES += vxs-ring-proxy
HOST_PROG_SRCS_vxs-ring-proxy := tests/xenstored/ring_proxy.c
HOST_PROG_LIBS_vxs-ring-proxy := -lxenevtchn
.PHONY: test-xenstored-kill-ring
test-xenstored: test-xenstored-kill-ring
test-xenstored-kill-ring: $(BUILD)/vxenstored $(BUILD)/vxs-ringkill-client \
                          $(BUILD)/tests/shim/xkshim.so
	$(Q)tests/xenstored/killtest_ring.sh $(BUILD)

# Quotas (issue 5, item 3): the options, GET/SET_QUOTA, GET/SET_FEATURE, CONTROL quota and
# dom0's node count across a restart (about 2 s); the unprivileged side is test_vxs_quota.
.PHONY: test-xenstored-quota
test-xenstored: test-xenstored-quota
test-xenstored-quota: $(BUILD)/vxenstored
	$(Q)tests/xenstored/quota.sh $(BUILD)
