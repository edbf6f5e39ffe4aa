/* Checks of the objstore.h contract shared by the tests of every heap (memobj, pack). */
#ifndef XENKIT_TESTS_STORE_CHECKS_H
#define XENKIT_TESTS_STORE_CHECKS_H

#include "xenstore/objstore.h"

/* put/get/has of blobs, nodes and commits, dedup, empty objects, invalid kinds. */
void store_check_objects(struct objstore *s);
/* Refs: create, compare-and-swap (wins and losses), refusal of a missing object, delete,
 * listing, bad names, durable callbacks (for ALWAYS/NONE: before set_ref returns). */
void store_check_refs(struct objstore *s);

#endif
