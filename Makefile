# xenkit top-level build: plain GNU make, no generated build system.
#
#   make              build everything into build/ (guests in build/guest/, host programs in build/)
#   make test         everything below: unit, boot and e2e
#   make test-unit    host unit tests (cmocka), plain and under ASan+UBSan
#   make test-boot    the guest images booted on bare QEMU through multiboot (seconds)
#   make test-e2e     the e2e scenarios only (boots real Xen under QEMU)
#   make test-e2e-vxs the rig again with vxenstored as dom0's xenstored
#   make demo         boot Xen in QEMU, create the hello guest, show its console
#   make bench        the benchmarks in bench/, one after the other (minutes; real disk)
#   make install      vxenstored, vxs-fdstore, vxs, vchan-cat and their man pages into $(DESTDIR)$(PREFIX)
#                     (PREFIX=/usr/local by default); make uninstall removes them
#   make help         this list
#   V=1               print full command lines
#
# Each directory contributes a fragment (*/build.mk) that appends to the variables below;
# this file only holds the toolchain settings and the generic rules.

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:

BUILD       ?= build
V           ?= 0
XEN_INCLUDE ?= /usr/include

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-8s %s\n' '$(1)' '$(2)';
endif

# Xen's public headers default to the oldest interface version, which maps sched_op and
# event_channel_op to their pre-3.2 "compat" hypercall numbers: Xen answers those with ENOSYS
# for HVM/PVH guests. Ask for the current interface everywhere.
XEN_INTERFACE := -D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__

# ---------------------------------------------------------------------------------------------
# Host toolchain: C11, warnings are errors. Sanitized variants for tests.
HOST_CC      ?= cc
HOST_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -iquote . $(XEN_INTERFACE) \
                $(EXTRA_HOST_CFLAGS)
HOST_LDFLAGS :=
SAN_FLAGS    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# ---------------------------------------------------------------------------------------------
# Guest toolchain: freestanding x86_64, no red zone, no SSE/MMX/x87 in kernel code (nothing
# saves those registers on a trap), not position independent (Debian's gcc defaults to PIE, and
# a PIE kernel triple-faults early). Only our lib/include, gcc's freestanding headers and Xen's
# public headers are visible: build/sysinc/xen is a symlink to $(XEN_INCLUDE)/xen, so a
# missing libc header is an error instead of a silent fall back to glibc's.
GUEST_CC      ?= gcc
GCC_INCLUDE   := $(shell $(GUEST_CC) -print-file-name=include)
SYSINC        := $(BUILD)/sysinc
GUEST_CFLAGS  := -std=c11 -Wall -Wextra -Werror -O2 -g \
                 -ffreestanding -fno-pie -fno-pic -fno-stack-protector -fno-common \
                 -fno-omit-frame-pointer -mno-red-zone -mcmodel=small \
                 -mno-sse -mno-sse2 -mno-mmx -mno-80387 -mno-avx -mgeneral-regs-only \
                 -nostdinc -isystem $(GCC_INCLUDE) -isystem $(SYSINC) -I lib/include -iquote . \
                 -DXENKIT_GUEST=1 $(XEN_INTERFACE) $(EXTRA_GUEST_CFLAGS)
OBJCOPY       ?= objcopy
GUEST_ASFLAGS := $(filter-out -std=c11,$(GUEST_CFLAGS)) -D__ASSEMBLY__
GUEST_LDS     := arch/x86_64/kernel.lds
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-z,max-page-size=0x1000 -Wl,--build-id=none \
                 -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments -Wl,-T,$(GUEST_LDS)

# ---------------------------------------------------------------------------------------------
# Filled in by the fragments.
GUEST_KERNEL_SRCS :=   # sources of the guest kernel, linked into every guest image
GUEST_IMAGES      :=   # build/guest/*.elf
HOST_PROGS        :=   # build/<prog>: declare with HOST_PROG_NAMES += p, HOST_PROG_SRCS_p, HOST_PROG_LIBS_p
UNIT_TESTS        :=   # build/tests/unit/<test> (a sanitized twin is built in unit-san/)
E2E_DEPS          :=   # what the rig needs built before it boots
BENCH_PROGS       :=   # build/<prog> run by `make bench`, with arguments BENCH_ARGS_<prog>

include lib/build.mk
include arch/x86_64/build.mk
include xen/build.mk
include xenstore/build.mk
include vchan/build.mk
include examples/build.mk
include bench/build.mk
include tests/unit/build.mk
include tests/e2e/guests/build.mk
include tests/e2e/build.mk
include tests/interop/build.mk

# ---------------------------------------------------------------------------------------------
# Generic rules. Objects live out of tree, mirroring the source path; -MMD -MP gives automatic
# header dependencies.
guest_obj = $(patsubst %,$(BUILD)/guest/obj/%.o,$(basename $(1)))
host_obj  = $(patsubst %,$(BUILD)/host/obj/%.o,$(basename $(1)))
san_obj   = $(patsubst %,$(BUILD)/host/san/%.o,$(basename $(1)))

GUEST_KERNEL_OBJS := $(call guest_obj,$(GUEST_KERNEL_SRCS))

# Flags live in this file: when it changes, everything is rebuilt.
BUILD_FLAGS_DEP := Makefile

$(SYSINC)/xen:
	$(Q)mkdir -p $(SYSINC)
	$(Q)test -f $(XEN_INCLUDE)/xen/xen.h || { echo "Xen public headers not found in $(XEN_INCLUDE)/xen: install libxen-dev" >&2; exit 1; }
	$(Q)ln -sfn $(abspath $(XEN_INCLUDE))/xen $@

$(BUILD)/guest/obj/%.o: %.c $(BUILD_FLAGS_DEP) | $(SYSINC)/xen
	$(call say,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(CFLAGS_$<) -MMD -MP -c $< -o $@

$(BUILD)/guest/obj/%.o: %.S $(BUILD_FLAGS_DEP) | $(SYSINC)/xen
	$(call say,AS,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_ASFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/host/obj/%.o: %.c $(BUILD_FLAGS_DEP)
	$(call say,HOSTCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(CFLAGS_$<) -MMD -MP -c $< -o $@

$(BUILD)/host/san/%.o: %.c $(BUILD_FLAGS_DEP)
	$(call say,SANCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(SAN_FLAGS) $(CFLAGS_$<) -MMD -MP -c $< -o $@

# guest_image(NAME, APP_SRCS): build/guest/NAME.elf from the kernel plus the app's sources.
# NAME.dbg keeps the debug information (for gdb and addr2line on a reported RIP); NAME.elf,
# the image to boot, keeps only the symbol table.
define guest_image
GUEST_IMAGES += $(BUILD)/guest/$(1).elf
$(BUILD)/guest/$(1).dbg: $(GUEST_KERNEL_OBJS) $(call guest_obj,$(2)) $(GUEST_LDS)
	$$(call say,LD,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(GUEST_CC) $$(GUEST_CFLAGS) $$(GUEST_LDFLAGS) -o $$@ $(GUEST_KERNEL_OBJS) $(call guest_obj,$(2)) -lgcc
$(BUILD)/guest/$(1).elf: $(BUILD)/guest/$(1).dbg
	$$(call say,STRIP,$$@)
	$$(Q)$$(OBJCOPY) --strip-debug $$< $$@
endef

# unit_test(NAME, SRCS, LIBS): build/tests/unit/NAME and build/tests/unit-san/NAME.
define unit_test
UNIT_TESTS += $(1)
$(BUILD)/tests/unit/$(1): $(call host_obj,$(2))
	$$(call say,HOSTLD,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(HOST_CC) $$(HOST_LDFLAGS) -o $$@ $$^ $(3)
$(BUILD)/tests/unit-san/$(1): $(call san_obj,$(2))
	$$(call say,SANLD,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(HOST_CC) $$(HOST_LDFLAGS) $$(SAN_FLAGS) -o $$@ $$^ $(3)
endef

# host_prog(NAME, SRCS, LIBS): build/NAME, a program for dom0 or the developer's machine.
define host_prog
HOST_PROGS += $(BUILD)/$(1)
$(BUILD)/$(1): $(call host_obj,$(2))
	$$(call say,HOSTLD,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(HOST_CC) $$(HOST_LDFLAGS) -o $$@ $$^ $(3)
endef

$(foreach g,$(GUEST_APPS),$(eval $(call guest_image,$(g),$(GUEST_APP_SRCS_$(g)))))
$(foreach p,$(HOST_PROG_NAMES),$(eval $(call host_prog,$(p),$(HOST_PROG_SRCS_$(p)),$(HOST_PROG_LIBS_$(p)))))
$(foreach t,$(UNIT_TEST_NAMES),$(eval $(call unit_test,$(t),$(UNIT_TEST_SRCS_$(t)),$(UNIT_TEST_LIBS_$(t)))))

UNIT_BINS := $(addprefix $(BUILD)/tests/unit/,$(UNIT_TESTS)) $(addprefix $(BUILD)/tests/unit-san/,$(UNIT_TESTS))

# ---------------------------------------------------------------------------------------------
.PHONY: all guests host-progs unit-bins test test-unit test-boot test-e2e demo bench clean help \
        install uninstall test-install

all: guests host-progs unit-bins
guests: $(GUEST_IMAGES)
host-progs: $(HOST_PROGS)
unit-bins: $(UNIT_BINS)

test: test-unit test-boot test-e2e test-e2e-vxs test-interop test-xenstored

test-unit: $(UNIT_BINS)
	$(Q)tests/unit/run-all.sh $(BUILD)/tests $(UNIT_TESTS)

test-boot: $(GUEST_IMAGES)
	$(Q)tests/boot/run.sh $(BUILD)

# One benchmark at a time, even under -j: they measure the machine.
bench: $(BENCH_PROGS)
	$(Q)set -e; $(foreach p,$(BENCH_PROGS),$(p) $(BENCH_ARGS_$(notdir $(p)));)

# The dom0 programs and their man pages. DESTDIR is a staging root (packages); PREFIX is
# where they will live. tests/xenstored/install.sh (part of make test-xenstored) checks it.
PREFIX  ?= /usr/local
DESTDIR ?=
INSTALL ?= install
INSTALL_SBIN := vxenstored vxs-fdstore
INSTALL_BIN  := vxs vchan-cat
INSTALL_MAN8 := docs/vxenstored.8
INSTALL_MAN1 := docs/vxs.1
install: $(addprefix $(BUILD)/,$(INSTALL_SBIN) $(INSTALL_BIN)) $(INSTALL_MAN8) $(INSTALL_MAN1)
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man1
	$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(INSTALL_SBIN)) $(DESTDIR)$(PREFIX)/sbin/
	$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(INSTALL_BIN)) $(DESTDIR)$(PREFIX)/bin/
	$(INSTALL) -m 0644 $(INSTALL_MAN8) $(DESTDIR)$(PREFIX)/share/man/man8/
	$(INSTALL) -m 0644 $(INSTALL_MAN1) $(DESTDIR)$(PREFIX)/share/man/man1/
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/sbin/,$(INSTALL_SBIN)) \
	    $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(INSTALL_BIN)) \
	    $(addprefix $(DESTDIR)$(PREFIX)/share/man/man8/,$(notdir $(INSTALL_MAN8))) \
	    $(addprefix $(DESTDIR)$(PREFIX)/share/man/man1/,$(notdir $(INSTALL_MAN1)))
test-xenstored: test-install
test-install: $(addprefix $(BUILD)/,$(INSTALL_SBIN) $(INSTALL_BIN))
	$(Q)tests/xenstored/install.sh $(BUILD)

clean:
	rm -rf $(BUILD)

help:
	@sed -n '3,/V=1/s/^# \{0,1\}//p' Makefile

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
