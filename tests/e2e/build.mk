# tests/e2e/: end-to-end scenarios run inside a real Xen dom0 booted under QEMU (tools/rig/).
#
#   make test-e2e                      all scenarios but demo
#   make test-e2e RIG_ARGS="hello"     only some scenarios (names of tests/e2e/scenarios/*.sh)
#   make test-e2e RIG_ARGS="--xenstored build/vxenstored"   another xenstored in dom0
#   make test-e2e-vxs                  a second boot with vxenstored as dom0's xenstored for
#                                      the whole boot (issue 5), under its fd store
#                                      vxs-fdstore: VXS_SCENARIOS, with SIGKILLs + restarts
#                                      that no client notices; then a third boot with
#                                      vxenstored alone (no holder): VXS_PLAIN_SCENARIOS
#   make demo                          boot Xen, create the hello guest, show its console
#
# RIG_ARGS is passed to tools/rig/run.sh (see its --help). The rig downloads Debian's Xen and
# kernel into .rig-cache/ (RIG_CACHE) on first use.

# The test-only guests the scenarios create (fault, bigout) come from tests/e2e/guests/build.mk,
# which the top-level Makefile includes.

RIG_ARGS ?=

.PHONY: test-e2e test-e2e-vxs test-e2e-vxs-kept test-e2e-vxs-plain demo

# GUEST_IMAGES is filled only after all fragments are read, so depend on the phony `guests`
# and `host-progs` targets (expanded late) rather than on the variables themselves.
test-e2e: guests host-progs $(E2E_DEPS)
	$(Q)BUILD=$(BUILD) RIG_HOST_PROGS="$(HOST_PROGS)" tools/rig/run.sh $(RIG_ARGS)

demo: guests host-progs $(E2E_DEPS)
	$(Q)BUILD=$(BUILD) RIG_HOST_PROGS="$(HOST_PROGS)" tools/rig/run.sh $(RIG_ARGS) demo

# xen-init-dom0, xenconsoled, xl create/destroy, guest rings, blkback/netback-free toolstack
# checks and vchan (unikernel pairs, one server with two clients, 50 vchans at once under the
# transaction quota, dom0 vchan-cat, one of a pair destroyed mid-stream), a stock Linux PVH
# guest whose xen-blkfront and xen-netfront negotiate with dom0's blkback and netback, then
# survive a SIGKILL + restart of the daemon (linux-guest), with vxenstored; vxs-restart last
# (it kills and restarts the daemon under a dom0 ring writer too). vxenstored runs under
# vxs-fdstore, as a dom0 should run it (docs/vxenstored.8, RESTARTS): the socket clients
# (xenconsoled, xl create -F) keep their connections across the kills. VXS_PLAIN_SCENARIOS
# then run on a boot with vxenstored alone, where a kill ends the socket connections (the
# scenarios restart xenconsoled) and only the rings and the database carry over.
VXS_SCENARIOS ?= hello xsprobe toolstack xlshutdown vchan vchan-big vchan-multi vchan-many vchan-dom0 \
                 vchan-kill linux-guest vxs-restart
VXS_PLAIN_SCENARIOS ?= vxs-restart
RIG_VXS_KEPT = BUILD=$(BUILD) RIG_HOST_PROGS="$(HOST_PROGS)" tools/rig/run.sh \
    --xenstored $(BUILD)/vxs-fdstore \
    --xenstored-args "-- /xenkit/build/vxenstored --db /var/lib/xenstored -N" $(VXS_SCENARIOS)
RIG_VXS_PLAIN = BUILD=$(BUILD) RIG_HOST_PROGS="$(HOST_PROGS)" tools/rig/run.sh \
    --xenstored $(BUILD)/vxenstored --xenstored-args "--db /var/lib/xenstored -N" \
    $(VXS_PLAIN_SCENARIOS)
# One rig after the other in one recipe, even under make -j.
test-e2e-vxs: guests host-progs $(E2E_DEPS)
	$(Q)$(RIG_VXS_KEPT)
	$(Q)$(RIG_VXS_PLAIN)
test-e2e-vxs-kept: guests host-progs $(E2E_DEPS)
	$(Q)$(RIG_VXS_KEPT)
test-e2e-vxs-plain: guests host-progs $(E2E_DEPS)
	$(Q)$(RIG_VXS_PLAIN)
