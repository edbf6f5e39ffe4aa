/*
 * Watches: registration, the queue of events, and their delivery.
 *
 * The event handler only appends events to one static queue (the watch's id and the changed
 * path). They leave it in two ways: a loop hook (outside any handler) calls the callbacks of
 * watches that have one, one at a time; xenbus_watch_wait() takes the events of queue-mode
 * watches. When the queue is full an event is not lost silently: its watch is marked `lost`
 * and later reports one event for its own path, which tells the watcher to re-read
 * everything it watches (what every watcher has to do on any event anyway).
 */
#include <stdio.h>
#include <string.h>

#include "xen/clock.h"
#include "xen/eventloop.h"
#include "xen/xenbus.h"
#include "xen/xenbus_priv.h"

#define EVQ_SIZE 16384
#define TOKEN_PREFIX "xk"

/* Queue entry: this header, then the path and its NUL. Entries are packed back to back and
 * read with memcpy (no alignment). */
struct ev_hdr {
    uint32_t watch_id;
    uint32_t path_len; /* without the NUL */
};

static uint8_t evq[EVQ_SIZE];
static size_t evq_len;
static struct xenbus_watch *watches;
static uint32_t next_id = 1;
static bool rewatch_due;
static bool in_callback;
/* The path handed to a callback. Only one callback runs at a time (in_callback). */
static char cb_path[XENSTORE_PAYLOAD_MAX + 1];

static void deliver_callbacks(void *arg);
static struct loop_hook hook = { deliver_callbacks, NULL, NULL };

void xb_watch_init(void)
{
    eventloop_add_hook(&hook);
}

static struct xenbus_watch *find_watch(uint32_t id)
{
    for (struct xenbus_watch *w = watches; w != NULL; w = w->next)
        if (w->id == id)
            return w;
    return NULL;
}

static void format_token(uint32_t id, char *buf, size_t cap)
{
    snprintf(buf, cap, TOKEN_PREFIX "%u", (unsigned)id);
}

/* "xk<id>" -> id; false for tokens that are not ours. */
static bool parse_token(const char *token, uint32_t *id)
{
    if (strncmp(token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1) != 0)
        return false;
    return xs_parse_u32(token + sizeof(TOKEN_PREFIX) - 1, id) == 0;
}

void xb_watch_event(const void *payload, size_t len)
{
    const char *path, *token;
    uint32_t id;
    struct xenbus_watch *w;

    if (xs_decode_watch_event(payload, len, &path, &token) != 0) {
        xb_stats.bad_replies++;
        printf("xenbus: malformed watch event dropped\n");
        return;
    }
    /* Unknown tokens: a watch removed while its event was on the way. */
    if (!parse_token(token, &id) || (w = find_watch(id)) == NULL)
        return;
    size_t plen = strlen(path);
    struct ev_hdr h = { id, (uint32_t)plen };
    if (EVQ_SIZE - evq_len < sizeof(h) + plen + 1) {
        w->lost = true;
        xb_stats.watch_dropped++;
        return;
    }
    memcpy(evq + evq_len, &h, sizeof(h));
    memcpy(evq + evq_len + sizeof(h), path, plen + 1);
    evq_len += sizeof(h) + plen + 1;
}

/* Remove the entry at off (of the given total size) from the queue. */
static void evq_remove(size_t off, size_t size)
{
    memmove(evq + off, evq + off + size, evq_len - off - size);
    evq_len -= size;
}

/* Find the first entry that `match` accepts; returns its offset or SIZE_MAX. */
static size_t evq_find(bool (*match)(uint32_t id, const void *ctx), const void *ctx,
                       struct ev_hdr *out)
{
    for (size_t off = 0; off < evq_len;) {
        memcpy(out, evq + off, sizeof(*out));
        if (match(out->watch_id, ctx))
            return off;
        off += sizeof(*out) + out->path_len + 1;
    }
    return SIZE_MAX;
}

static bool match_id(uint32_t id, const void *ctx)
{
    return id == *(const uint32_t *)ctx;
}

static bool match_callback(uint32_t id, const void *ctx)
{
    (void)ctx;
    struct xenbus_watch *w = find_watch(id);
    return w != NULL && w->fn != NULL;
}

/* Take w's oldest event (or its `lost` marker) into path; false if it has none. */
static bool take_event(struct xenbus_watch *w, char *path, size_t cap)
{
    struct ev_hdr h;
    size_t off = evq_find(match_id, &w->id, &h);
    if (off != SIZE_MAX) {
        if (path != NULL && cap > 0) {
            size_t n = h.path_len < cap - 1 ? h.path_len : cap - 1;
            memcpy(path, evq + off + sizeof(h), n);
            path[n] = '\0';
        }
        evq_remove(off, sizeof(h) + h.path_len + 1);
        return true;
    }
    if (w->lost) {
        w->lost = false;
        if (path != NULL && cap > 0)
            snprintf(path, cap, "%s", w->path);
        return true;
    }
    return false;
}

static void purge_events(uint32_t id)
{
    struct ev_hdr h;
    size_t off;
    while ((off = evq_find(match_id, &id, &h)) != SIZE_MAX)
        evq_remove(off, sizeof(h) + h.path_len + 1);
}

static void deliver_callbacks(void *arg)
{
    (void)arg;
    if (in_callback)
        return;
    in_callback = true;
    for (;;) {
        struct ev_hdr h;
        struct xenbus_watch *w = NULL;
        size_t off = evq_find(match_callback, NULL, &h);
        if (off != SIZE_MAX) {
            w = find_watch(h.watch_id);
            memcpy(cb_path, evq + off + sizeof(h), h.path_len + 1);
            evq_remove(off, sizeof(h) + h.path_len + 1);
        } else {
            for (struct xenbus_watch *x = watches; x != NULL && w == NULL; x = x->next)
                if (x->fn != NULL && x->lost)
                    w = x;
            if (w == NULL)
                break;
            w->lost = false;
            snprintf(cb_path, sizeof(cb_path), "%s", w->path);
        }
        /* The callback may add or remove watches (itself included) and wait: nothing of
         * the queue is held across the call. */
        w->fn(w, cb_path, w->arg);
    }
    in_callback = false;
}

static void unlink_watch(struct xenbus_watch *w)
{
    for (struct xenbus_watch **pp = &watches; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    w->registered = false;
    purge_events(w->id);
    w->lost = false;
}

static int send_watch(uint32_t type, const struct xenbus_watch *w)
{
    char token[16];
    format_token(w->id, token, sizeof(token));
    struct xb_req rq = { .type = type, .strs = { w->path, token }, .nstr = 2 };
    char reply[4];
    size_t len;
    int rc = xb_request(&rq, reply, sizeof(reply), &len);
    if (rc == -ERANGE)
        return -EPROTO;
    return rc != 0 ? rc : xs_decode_ok(reply, len);
}

int xenbus_watch_add(struct xenbus_watch *w, const char *path, xenbus_watch_fn fn, void *arg)
{
    if (strlen(path) >= sizeof(w->path))
        return -ENAMETOOLONG;
    memcpy(w->path, path, strlen(path) + 1);
    w->fn = fn;
    w->arg = arg;
    w->id = next_id++;
    w->lost = false;
    w->gen = xb_generation();
    /* Linked before the request: the daemon fires the watch right after (or, some daemons,
     * before) its reply, and that first event must find the watch. */
    w->next = watches;
    watches = w;
    w->registered = true;
    int rc = send_watch(XS_WATCH, w);
    if (rc != 0)
        unlink_watch(w);
    return rc;
}

int xenbus_watch_remove(struct xenbus_watch *w)
{
    if (!w->registered)
        return -ENOENT;
    unlink_watch(w);
    int rc = send_watch(XS_UNWATCH, w);
    /* After a reconnection the daemon may not know the watch any more. */
    return rc == -ENOENT ? 0 : rc;
}

int xenbus_watch_wait(struct xenbus_watch *w, uint64_t deadline_ns, char *path, size_t cap)
{
    for (;;) {
        if (take_event(w, path, cap))
            return 0;
        if (!w->registered)
            return -ENOENT;
        if (deadline_ns != WAIT_FOREVER && clock_monotonic_ns() >= deadline_ns)
            return -ETIMEDOUT;
        xb_wait_daemon(deadline_ns);
    }
}

/* ---- Reconnection -------------------------------------------------------------------- */

void xb_watch_reregister(void)
{
    rewatch_due = true;
    (void)xb_watch_resend();
}

/* Send WATCH for every watch last registered on an earlier connection, as long as they fit
 * in the outgoing queue; poll_ring() calls again after each drain until all are sent. */
bool xb_watch_resend(void)
{
    bool queued = false;
    uint32_t gen = xb_generation();
    char token[16];

    if (!rewatch_due)
        return false;
    for (struct xenbus_watch *w = watches; w != NULL; w = w->next) {
        if (w->gen == gen)
            continue;
        format_token(w->id, token, sizeof(token));
        struct xb_req rq = { .type = XS_WATCH, .strs = { w->path, token }, .nstr = 2 };
        if (xb_send_detached(&rq) != 0)
            return queued;
        w->gen = gen;
        queued = true;
    }
    rewatch_due = false;
    return queued;
}
