/*
 * The object names (xenstore/store_hash.c: SHA-256 of kind + bytes, hex, parsing) and the
 * in-memory heap (xenstore/store_memobj.c) against the objstore.h contract.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/store_checks.h"
#include "xenstore/objstore.h"

static void test_hash_vectors(void **state)
{
    (void)state;
    struct store_hash h, p;
    char hex[65];
    /* sha256(b"\x01abc") and sha256(b"\x02"), computed with Python's hashlib */
    store_hash_object(STORE_KIND_BLOB, "abc", 3, &h);
    store_hash_hex(&h, hex);
    assert_string_equal(hex, "1e18834c426d00e57788444cb3ccd62c771b420c095bb0c4e040a8c122c4570d");
    assert_int_equal(store_hash_parse(hex, &p), 0);
    assert_true(store_hash_equal(&h, &p));
    store_hash_object(STORE_KIND_NODE, NULL, 0, &h);
    store_hash_hex(&h, hex);
    assert_string_equal(hex, "dbc1b4c900ffe48d575b5da5c638040125f65db0fe3e24494b76ea986457d986");
}

static void test_hash_parse(void **state)
{
    (void)state;
    struct store_hash h;
    char hex[66];
    memset(hex, 'A', 64);
    hex[64] = '\0';
    assert_int_equal(store_hash_parse(hex, &h), 0);
    assert_int_equal(h.b[0], 0xaa);
    hex[64] = '0';
    hex[65] = '\0';
    assert_int_equal(store_hash_parse(hex, &h), -EINVAL); /* too long */
    hex[63] = '\0';
    assert_int_equal(store_hash_parse(hex, &h), -EINVAL); /* too short */
    memset(hex, '0', 64);
    hex[64] = '\0';
    hex[10] = 'g';
    assert_int_equal(store_hash_parse(hex, &h), -EINVAL);
    assert_int_equal(store_hash_parse(NULL, &h), -EINVAL);
    assert_int_equal(store_hash_parse("", &h), -EINVAL);
}

static void test_memobj_objects(void **state)
{
    (void)state;
    struct objstore *s = store_memobj_open();
    assert_non_null(s);
    store_check_objects(s);
    s->ops->close(s);
}

static void test_memobj_refs(void **state)
{
    (void)state;
    struct objstore *s = store_memobj_open();
    assert_non_null(s);
    store_check_refs(s);
    s->ops->close(s);
}

static void test_memobj_many(void **state)
{
    (void)state;
    struct objstore *s = store_memobj_open();
    struct store_hash h;
    for (uint32_t i = 0; i < 20000; i++)
        assert_int_equal(s->ops->put(s, STORE_KIND_BLOB, &i, sizeof(i), &h), 0);
    for (uint32_t i = 0; i < 20000; i++) {
        store_hash_object(STORE_KIND_BLOB, &i, sizeof(i), &h);
        assert_true(s->ops->has(s, &h));
    }
    s->ops->close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_vectors),  cmocka_unit_test(test_hash_parse),
        cmocka_unit_test(test_memobj_objects), cmocka_unit_test(test_memobj_refs),
        cmocka_unit_test(test_memobj_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
