#!/bin/bash
# toolstack: dom0's Xen toolstack works (xl talks to Xen, xenstored answers). Fails first when
# the rig itself is broken, e.g. with a replacement xenstored (run.sh --xenstored).
set -u
. tests/e2e/lib.sh

ver=$(xl info 2>&1 | sed -n 's/^xen_version *: *//p')
[ -n "$ver" ] || { xl info 2>&1; fail "xl info printed no xen_version"; }
xl list 2>&1 | grep -q '^Domain-0 ' || { xl list 2>&1; soft_fail "xl list does not show Domain-0"; }
name=$(xenstore-read /local/domain/0/name 2>&1) || true
[ "$name" = Domain-0 ] || soft_fail "xenstore-read /local/domain/0/name gave '$name'"
caps=$(xl info 2>&1 | sed -n 's/^virt_caps *: *//p')
info "toolstack: Xen $ver, virt_caps $caps, dom0 up $(now) s"
finish
