/*
 * vxenstored's command line: our own options and C xenstored's, so that it drops in where
 * xencommons or the systemd unit start C xenstored with their usual flags.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"
#include "xenstore/vxs_spin.h"

void vxs_usage(FILE *f)
{
    fprintf(f,
            "usage: vxenstored [options]\n"
            "  --db DIR|:memory:        the database directory (default /var/lib/xenstored)\n"
            "  --sync always|batch|none when a reply may leave: after its commit is on disk\n"
            "                           (always: one fdatasync each; batch: one per round,\n"
            "                           the default; none: no sync)\n"
            "  --socket PATH            the Unix socket (default $XENSTORED_PATH, else\n"
            "                           $XENSTORED_RUNDIR/socket, else /var/run/xenstored/socket)\n"
            "  --socket-only            no hypervisor: serve the Unix socket alone\n"
            "  -F, --pid-file FILE      write the daemon's pid to FILE\n"
            "  -N, --no-fork            stay in the foreground\n"
            "  -T, --trace-file FILE    log every request and reply to FILE\n"
            "  -K, --keep-orphans       a departed domain's nodes go to dom0 instead of\n"
            "                           being removed (C xenstored's -K; a memory risk)\n"
            "  -V, --verbose            log to stderr what happens\n"
            "  --poll-spin USECS        while requests follow each other closely, look for\n"
            "                           the next one this long before sleeping (default %u;\n"
            "                           0: always sleep at once, as C xenstored does)\n"
            "  -t, --transaction N      open transactions per domain (default 10)\n"
            "  -W, --watch-nb N         watches per domain (default 128)\n"
            "  -S, --entry-size N       bytes of a node's value (default 2048)\n"
            "  -A, --perm-nb N          entries of a node's permissions (default 5)\n"
            "  -E, --entry-nb N         nodes a domain may own (default 1000)\n"
            "  -M, --path-max N         characters of a path below a domain's home (2048)\n"
            "  -Q, --quota WHAT=N       nodes, watches, outstanding (requests whose reply\n"
            "                           the domain has not read, 20), memory (bytes the\n"
            "                           domain makes us hold, 2621440; over it its ring is\n"
            "                           not read), transactions, transaction-nodes (nodes\n"
            "                           one transaction may access, 1024),\n"
            "                           node-permissions, path-max, node-size\n"
            "  -q, --quota-soft WHAT=N  memory: log a warning over N bytes (2097152)\n"
            "  -w, --timeout WHAT=SECS  watch-event: drop a watch event a domain leaves\n"
            "                           unread that long (20; 0: never)\n"
            "  -H, -h, --help           this text\n"
            "Quotas apply to unprivileged domains; dom0 is exempt, as with C xenstored.\n",
            VXS_POLL_SPIN_DEFAULT_US);
}

static bool num(const char *s, unsigned long *out)
{
    char *e;
    if (!s || !*s)
        return false;
    *out = strtoul(s, &e, 10);
    return *e == 0;
}

int vxs_opts_parse(int argc, char **argv, struct vxs_opts *o)
{
    memset(o, 0, sizeof *o);
    o->db = "/var/lib/xenstored";
    o->fork = true;
    o->spin_us = VXS_POLL_SPIN_DEFAULT_US;
    vxs.sync = STORE_SYNC_BATCH;
    vxs_quota_defaults();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long n;
#define OPT(s, l) (strcmp(a, s) == 0 || strcmp(a, l) == 0)
        if (strcmp(a, "--db") == 0 && v) {
            o->db = v, i++;
        } else if (strcmp(a, "--socket") == 0 && v) {
            o->socket = v, i++;
        } else if (strcmp(a, "--sync") == 0 && v) {
            i++;
            if (strcmp(v, "always") == 0)
                vxs.sync = STORE_SYNC_ALWAYS;
            else if (strcmp(v, "batch") == 0)
                vxs.sync = STORE_SYNC_BATCH;
            else if (strcmp(v, "none") == 0)
                vxs.sync = STORE_SYNC_WRITE; /* no sync; one write per round, before replies */
            else
                return -1;
        } else if (strcmp(a, "--poll-spin") == 0 && num(v, &n) && n <= 100000) {
            o->spin_us = (unsigned)n, i++;
        } else if (strcmp(a, "--socket-only") == 0) {
            vxs.socket_only = true;
        } else if (OPT("-N", "--no-fork")) {
            o->fork = false;
        } else if (OPT("-K", "--keep-orphans")) {
            vxs.keep_orphans = true;
        } else if (OPT("-V", "--verbose")) {
            vxs.verbose = 1;
        } else if (OPT("-F", "--pid-file") && v) {
            o->pid_file = v, i++;
        } else if (OPT("-T", "--trace-file") && v) {
            o->trace_file = v, i++;
        } else if (OPT("-t", "--transaction") && num(v, &n)) {
            vxs.max_txs = (unsigned)n, i++;
        } else if (OPT("-W", "--watch-nb") && num(v, &n)) {
            vxs.max_watches = (unsigned)n, i++;
        } else if (OPT("-S", "--entry-size") && num(v, &n)) {
            vxs.max_node_size = (size_t)n, i++;
        } else if (OPT("-A", "--perm-nb") && num(v, &n)) {
            vxs.max_perms = (unsigned)n, i++;
        } else if (OPT("-E", "--entry-nb") && num(v, &n)) {
            vxs_quota_set_global(VXS_Q_NODES, 0, (unsigned)n), i++;
        } else if (OPT("-M", "--path-max") && num(v, &n)) {
            vxs_quota_set_global(VXS_Q_PATH_MAX, 0, (unsigned)n), i++;
        } else if ((OPT("-Q", "--quota") || OPT("-q", "--quota-soft")) && v) {
            if (vxs_quota_set_option(v, a[1] == 'q' || strcmp(a, "--quota-soft") == 0) < 0)
                return -1;
            i++;
        } else if (OPT("-w", "--timeout") && v) {
            if (vxs_quota_set_timeout(v) < 0)
                return -1;
            i++;
        } else if (OPT("-h", "--help") || strcmp(a, "-H") == 0) {
            o->help = true;
        } else {
            return -1;
        }
#undef OPT
    }
    return 0;
}
