# tests/interop/: our dom0 vchan binding against the real libxenvchan and vchan-socket-proxy
# on the host, without Xen (tests/interop/run.sh; the LD_PRELOAD shim is tests/shim/).
INTEROP_SHIM := $(BUILD)/tests/shim/xkshim.so
INTEROP_LXV  := $(BUILD)/tests/interop/lxv-peer

# xenctrl.h needs GNU C (anonymous unions), hence gnu11 for the shim.
$(INTEROP_SHIM): tests/shim/xkshim.c $(BUILD_FLAGS_DEP)
	$(call say,HOSTSO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(filter-out -std=c11,$(HOST_CFLAGS)) -std=gnu11 -fPIC -shared -o $@ $< -ldl

$(INTEROP_LXV): tests/interop/lxv_peer.c $(BUILD_FLAGS_DEP)
	$(call say,HOSTLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< -lxenvchan

# Our binding used in libxenvchan's polling style (data_ready / buffer_space, then poll).
INTEROP_XKPOLL := $(BUILD)/tests/interop/xk-poll-peer
$(INTEROP_XKPOLL): tests/interop/xk_poll_peer.c $(VCHAN_DOM0_SRCS) vchan/xkvchan.h \
                   vchan/vchan_core.h $(BUILD_FLAGS_DEP)
	$(call say,HOSTLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ tests/interop/xk_poll_peer.c $(VCHAN_DOM0_SRCS) \
	    $(VCHAN_DOM0_LIBS)

.PHONY: test-interop
test-interop: $(INTEROP_SHIM) $(INTEROP_LXV) $(INTEROP_XKPOLL) $(BUILD)/vchan-cat
	$(Q)tests/interop/run.sh $(BUILD)
