/*
 * The xenstore wire format (docs/misc/xenstore.txt), one definition for the whole project:
 * the guest's xenbus client (xen/xenbus*.c) and vxenstored both use this file.
 *
 * A message is a 16-byte header (struct xsd_sockmsg from <xen/io/xs_wire.h>: type, req_id,
 * tx_id, len, host byte order) and `len` bytes of payload, at most XENSTORE_PAYLOAD_MAX.
 * Payloads are strings each followed by a NUL ("/path\0token\0"), except that the last
 * element may be raw bytes without a NUL: the value of a WRITE request and of a READ reply.
 *
 * Pure: no I/O, no globals, no allocation; everything works in caller-provided buffers, so
 * the same file builds into the guest and into host programs and tests. Nothing received is
 * trusted: every decoder checks lengths and terminators and returns -EPROTO (never reads out
 * of bounds) on a malformed message.
 *
 * The API is symmetric: a client encodes requests and decodes replies, a server decodes
 * requests and encodes replies, with the same builder and the same splitters.
 */
#ifndef XENKIT_XENSTORE_XS_CODEC_H
#define XENKIT_XENSTORE_XS_CODEC_H

#include <errno.h> /* before xs_wire.h: it defines xsd_errors only when EINVAL exists */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

#define XS_HDR_SIZE  sizeof(struct xsd_sockmsg)
#define XS_MSG_MAX   (XS_HDR_SIZE + XENSTORE_PAYLOAD_MAX)

/* Types newer than some Xen headers (docs/misc/xenstore.txt): known to the codec so that a
 * server can recognise them, whatever <xen/io/xs_wire.h> this builds against. */
#define XS_CODEC_GET_FEATURE 23
#define XS_CODEC_SET_FEATURE 24
#define XS_CODEC_GET_QUOTA   25
#define XS_CODEC_SET_QUOTA   26

/* Is `type` a message type of the protocol (request or reply)? XS_RESTRICT (20) was removed
 * and is not. */
bool xs_type_known(uint32_t type);
/* "READ", "WATCH_EVENT", ... for logs; "?" if unknown. */
const char *xs_type_name(uint32_t type);

/* ---- Encoding (requests on a client, replies on a server) ---------------------------- */

/* Builds one message into buf. Errors are sticky: after one, the others do nothing and
 * xs_build_end() reports it, so callers check once at the end. */
struct xs_builder {
    uint8_t *buf;
    size_t cap;
    size_t len;   /* bytes written so far, header included */
    int err;      /* 0 or -E2BIG (payload or buffer too small) */
};

void xs_build_begin(struct xs_builder *b, void *buf, size_t cap, uint32_t type,
                    uint32_t req_id, uint32_t tx_id);
/* Append s and its NUL. */
void xs_build_str(struct xs_builder *b, const char *s);
/* Append n raw bytes (no NUL): a WRITE's value, a READ reply. */
void xs_build_raw(struct xs_builder *b, const void *p, size_t n);
/* Append a decimal number and its NUL (tx ids, domids). */
void xs_build_u32(struct xs_builder *b, uint32_t v);
/* Fill in the header's len. Returns the message's total size (header + payload) or -E2BIG
 * if the payload would exceed XENSTORE_PAYLOAD_MAX or the buffer. */
int xs_build_end(struct xs_builder *b);

/* Error reply for -err (e.g. -ENOENT -> "ENOENT\0", type XS_ERROR); errors xsd_errors does
 * not name become "EINVAL". Returns the size or -E2BIG. */
int xs_encode_error(void *buf, size_t cap, uint32_t req_id, uint32_t tx_id, int err);

/* ---- Decoding a byte stream into messages -------------------------------------------- */

/* Reassembles messages from a stream that arrives in pieces of any size. The payload goes
 * to the caller's buffer, which needs XENSTORE_PAYLOAD_MAX + 1 bytes: the reader always
 * stores a NUL after the payload, so a payload can be used as a C string when the protocol
 * allows (the NUL is not counted in hdr.len). */
struct xs_reader {
    struct xsd_sockmsg hdr;
    uint8_t *body;
    size_t body_cap;
    size_t have;  /* bytes of the current message received, header included */
    int err;      /* sticky: the stream is unusable (no resynchronisation is possible) */
};

#define XS_READER_BODY_SIZE (XENSTORE_PAYLOAD_MAX + 1)

void xs_reader_init(struct xs_reader *r, void *body, size_t body_cap);
/* Where the next bytes go and how many the current message still needs: copy up to *n bytes
 * there, then call xs_reader_got(). NULL if a message is complete (or the stream broken). */
void *xs_reader_want(struct xs_reader *r, size_t *n);
/* n bytes were stored where xs_reader_want() said. Returns 1 when a whole message is
 * there (hdr, body valid until xs_reader_next()), 0 if more is needed, -EPROTO if the header
 * announces a payload larger than XENSTORE_PAYLOAD_MAX (the stream cannot continue). */
int xs_reader_got(struct xs_reader *r, size_t n);
/* Copy in from a buffer: consumes bytes until a message is complete; *used says how many.
 * Same results as xs_reader_got(). */
int xs_reader_feed(struct xs_reader *r, const void *data, size_t len, size_t *used);
/* Forget the complete message and start on the next one. */
void xs_reader_next(struct xs_reader *r);
/* Forget everything, including a sticky error (after a ring reconnection). */
void xs_reader_reset(struct xs_reader *r);

/* ---- Decoding payloads --------------------------------------------------------------- */

/* A payload seen as a list of NUL-terminated strings (directory replies, request
 * arguments, watch events). */
struct xs_strings {
    const char *p, *end;
};
/* -EPROTO if the payload is not empty and its last byte is not a NUL. */
int xs_strings_init(struct xs_strings *it, const void *payload, size_t len);
/* Next string (and its length without the NUL), NULL at the end. */
const char *xs_strings_next(struct xs_strings *it, size_t *len);
/* Number of strings. */
size_t xs_strings_count(const void *payload, size_t len);

/* Split a payload into its first n strings; the rest (raw bytes, possibly none) is left in
 * *rest and *rest_len, if rest is not NULL. -EPROTO if there are fewer than n NUL-terminated
 * strings, or if rest is NULL and anything follows them. Used for requests on a server
 * ("path\0value" of a WRITE: n = 1 and a rest) and for watch events on a client. */
int xs_split(const void *payload, size_t len, const char **strs, unsigned n,
             const void **rest, size_t *rest_len);

/* An XS_ERROR payload ("ENOENT\0") as -errno. Names xsd_errors does not know give -EIO
 * (oxenstored's "EQUOTA" gives -ENOSPC, what C xenstored sends for the same condition);
 * a payload that is not a NUL-terminated string gives -EPROTO. */
int xs_decode_error(const void *payload, size_t len);
/* The reply's status: 0 if hdr->type is `expected`, the decoded error if it is XS_ERROR,
 * -EPROTO for any other type. */
int xs_reply_status(const struct xsd_sockmsg *hdr, const void *payload, uint32_t expected);
/* An "OK" reply ("OK\0"; "OK" without the NUL is accepted too). */
int xs_decode_ok(const void *payload, size_t len);
/* A single decimal u32 followed by its NUL ("17\0"): transaction ids, domids. Strict: digits
 * only, no sign, no overflow, no leading zeros but "0" itself. */
int xs_decode_u32(const void *payload, size_t len, uint32_t *out);
/* A watch event ("path\0token\0", more strings tolerated). */
int xs_decode_watch_event(const void *payload, size_t len, const char **path,
                          const char **token);

/* Parse a C string as a strict decimal u32 (same rules as xs_decode_u32). */
int xs_parse_u32(const char *s, uint32_t *out);

/* ---- Permissions --------------------------------------------------------------------- */

/* One permission entry: "r5" = domain 5 may read. The first entry of a node's list names its
 * owner and the access every domain not listed gets. */
enum xs_perm_access {
    XS_PERM_NONE = 'n',
    XS_PERM_READ = 'r',
    XS_PERM_WRITE = 'w',
    XS_PERM_BOTH = 'b',
};
struct xs_perm {
    uint32_t domid;
    char access; /* enum xs_perm_access */
};
/* "b0" -> {0, 'b'}; -EINVAL if malformed (unknown letter, domid not a strict decimal u32).
 * Any u32 domid is accepted: special ids such as DOMID_ANY are the server's business. */
int xs_perm_parse(const char *s, struct xs_perm *out);
/* Format into buf (NUL-terminated). Returns the length or -E2BIG/-EINVAL. */
int xs_perm_format(const struct xs_perm *p, char *buf, size_t cap);

#endif
