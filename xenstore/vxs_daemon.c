/*
 * vxenstored as a system daemon: fork into the background once it serves (the parent exits
 * only when the socket answers, as launch-xenstore expects), the pid file, systemd's
 * sd_notify(READY=1) when NOTIFY_SOCKET is set (xenstored.service is Type=notify), and the
 * -T trace file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xenstore/vxs.h"

static FILE *trace;

int vxs_daemonize(void)
{
    int p[2];
    if (pipe(p) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0) {
        /* The parent waits for the child's word that it serves, then exits with it. */
        close(p[1]);
        char c = 1;
        ssize_t n = read(p[0], &c, 1);
        _exit(n == 1 && c == 0 ? 0 : 1);
    }
    close(p[0]);
    setsid();
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        if (!vxs.verbose)
            dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    return p[1];
}

void vxs_daemon_ready(int ready_fd, const char *pid_file)
{
    if (pid_file) {
        FILE *f = fopen(pid_file, "w");
        if (f) {
            fprintf(f, "%ld\n", (long)getpid());
            fclose(f);
        } else {
            vxs_log("%s: %s", pid_file, strerror(errno));
        }
    }
    if (ready_fd >= 0) {
        char c = 0;
        if (write(ready_fd, &c, 1) != 1)
            vxs_log("cannot tell the parent we are ready");
        close(ready_fd);
    }
    const char *ns = getenv("NOTIFY_SOCKET");
    if (ns && (ns[0] == '/' || ns[0] == '@') && strlen(ns) < sizeof(((struct sockaddr_un *)0)->sun_path)) {
        int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s >= 0) {
            struct sockaddr_un sa = {.sun_family = AF_UNIX};
            strcpy(sa.sun_path, ns);
            if (ns[0] == '@')
                sa.sun_path[0] = 0; /* abstract namespace */
            socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(ns));
            static const char msg[] = "READY=1";
            sendto(s, msg, sizeof msg - 1, 0, (struct sockaddr *)&sa, len);
            close(s);
        }
    }
}

static char *trace_path;

int vxs_trace_open(const char *path)
{
    FILE *f = fopen(path, "a");
    if (!f)
        return -errno;
    setvbuf(f, NULL, _IOLBF, 0);
    if (trace)
        fclose(trace);
    trace = f;
    if (path != trace_path) {
        free(trace_path);
        trace_path = strdup(path);
    }
    return 0;
}

/* SIGHUP, as C xenstored: log rotation moved the trace file away, so start a new one. */
void vxs_trace_reopen(void)
{
    if (trace_path && vxs_trace_open(trace_path) < 0)
        vxs_log("cannot reopen the trace file %s: %s", trace_path, strerror(errno));
}

void vxs_trace_close(void)
{
    if (trace)
        fclose(trace);
    trace = NULL;
}

void vxs_trace(const struct vxs_conn *c, const char *dir, const struct xsd_sockmsg *h,
               const void *payload)
{
    if (!trace)
        return;
    /* The time of day to the microsecond: to line requests up with a guest's log. */
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    fprintf(trace, "%s %02d:%02d:%02d.%06ld dom%u/conn%u %s req %u tx %u len %u \"", dir,
            tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000, c->domid, c->id,
            xs_type_name(h->type), h->req_id, h->tx_id, h->len);
    const unsigned char *p = payload;
    for (uint32_t i = 0; i < h->len && i < 256; i++)
        fputc(p[i] == 0 ? '|' : (p[i] >= 32 && p[i] < 127 ? p[i] : '.'), trace);
    fputs(h->len > 256 ? "...\"\n" : "\"\n", trace);
}
