/* test_memmap.c: the memory map parser arch/x86_64/memmap.c (plain host code) on well-formed
 * and hostile tables: Xen's packed e820, hvm_start_info's table, the multiboot mmap. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86_64/memmap.h"

/* Xen's e820 entry: 20 bytes, packed. */
struct __attribute__((packed)) e820 {
    uint64_t addr, size;
    uint32_t type;
};

/* hvm_memmap_table_entry: 24 bytes. */
struct hvm_entry {
    uint64_t addr, size;
    uint32_t type, reserved;
};

static struct memmap m;

static void test_xen_e820_typical(void **state)
{
    (void)state;
    /* What libxl gives a 32 MiB PVH guest, out of order. */
    struct e820 t[] = {
        { 0xfc000000, 0x4000000, MEMMAP_RESERVED },
        { 0, 0x2000000, MEMMAP_RAM },
        { 0xfeff8000, 0x8000, MEMMAP_RESERVED },
    };
    memmap_init(&m);
    memmap_from_table(&m, t, 3, sizeof(t[0]));
    assert_int_equal(m.n, 3);
    assert_int_equal(m.ignored, 0);
    assert_int_equal(m.e[0].base, 0);
    assert_int_equal(m.e[1].base, 0xfc000000);
    assert_int_equal(memmap_ram_bytes(&m), 32 << 20);
    assert_int_equal(memmap_ram_ranges(&m), 1);
    assert_string_equal(memmap_type_name(m.e[2].type), "reserved");
    assert_string_equal(memmap_type_name(77), "type?");
}

static void test_hvm_table_stride(void **state)
{
    (void)state;
    struct hvm_entry t[] = {
        { 0x100000, 0x700000, MEMMAP_RAM, 0 },
        { 0x100000000ull, 0x40000000, MEMMAP_RAM, 0 },
        { 0xf0000000, 0x1000, MEMMAP_ACPI, 0 },
    };
    memmap_init(&m);
    memmap_from_table(&m, t, 3, sizeof(t[0]));
    assert_int_equal(m.n, 3);
    assert_int_equal(memmap_ram_bytes(&m), 0x700000 + 0x40000000ull);
    assert_int_equal(m.e[2].base, 0x100000000ull);
    memmap_from_table(&m, t, 3, 12); /* a stride too small to hold an entry: nothing read */
    assert_int_equal(m.n, 3);
}

static void test_hostile_entries(void **state)
{
    (void)state;
    struct e820 t[] = {
        { 0x1000, 0, MEMMAP_RAM },                      /* empty: dropped */
        { UINT64_MAX - 0xfff, 0x2000, MEMMAP_RAM },     /* beyond 2^52: dropped */
        { MEMMAP_MAX_ADDR - 0x1000, UINT64_MAX, MEMMAP_RAM }, /* wraps: clipped at 2^52 */
        { 0x200000, UINT64_MAX, MEMMAP_RESERVED },      /* clipped too */
    };
    memmap_init(&m);
    memmap_from_table(&m, t, 4, sizeof(t[0]));
    assert_int_equal(m.n, 2);
    assert_int_equal(m.ignored, 2);
    assert_int_equal(m.e[0].base, 0x200000);
    assert_int_equal(m.e[0].base + m.e[0].len, MEMMAP_MAX_ADDR);
    assert_int_equal(m.e[1].len, 0x1000);
    assert_int_equal(memmap_ram_bytes(&m), 0x1000);
}

static void test_too_many_entries(void **state)
{
    (void)state;
    /* A count of a billion: only MEMMAP_MAX entries are read (the buffer holds 100). */
    static struct e820 t[100];
    for (unsigned i = 0; i < 100; i++)
        t[i] = (struct e820){ (uint64_t)i << 20, 1 << 19, MEMMAP_RAM };
    memmap_init(&m);
    memmap_from_table(&m, t, 100, sizeof(t[0]));
    assert_int_equal(m.n, MEMMAP_MAX);
    assert_int_equal(m.ignored, 100 - MEMMAP_MAX);
    memmap_from_table(&m, t, 1000000000, sizeof(t[0])); /* full: returns without reading */
    assert_int_equal(m.n, MEMMAP_MAX);
    for (unsigned i = 1; i < m.n; i++)
        assert_true(m.e[i - 1].base <= m.e[i].base);
}

/* Appends one multiboot mmap entry with the given size field (normally 20). */
static size_t mb_entry(uint8_t *buf, size_t off, uint32_t size, uint64_t base, uint64_t len,
                       uint32_t type)
{
    memcpy(buf + off, &size, 4);
    memcpy(buf + off + 4, &base, 8);
    memcpy(buf + off + 12, &len, 8);
    memcpy(buf + off + 20, &type, 4);
    return off + 4 + size;
}

static void test_multiboot_mmap(void **state)
{
    (void)state;
    uint8_t buf[256] = { 0 };
    size_t off = 0;
    off = mb_entry(buf, off, 20, 0, 0x9fc00, MEMMAP_RAM);
    off = mb_entry(buf, off, 24, 0x9fc00, 0x400, MEMMAP_RESERVED); /* bigger entry: skipped by size */
    off = mb_entry(buf, off, 20, 0x100000, 0x3ee0000, MEMMAP_RAM);
    memmap_init(&m);
    memmap_from_multiboot(&m, buf, off);
    assert_int_equal(m.n, 3);
    assert_int_equal(memmap_ram_bytes(&m), 0x9fc00 + 0x3ee0000);

    /* A size field too small ends the walk; so does one running past the buffer. */
    off = mb_entry(buf, 0, 20, 0, 0x1000, MEMMAP_RAM);
    off = mb_entry(buf, off, 3, 0x5000, 0x1000, MEMMAP_RAM);
    memmap_init(&m);
    memmap_from_multiboot(&m, buf, sizeof(buf));
    assert_int_equal(m.n, 1);
    off = mb_entry(buf, 0, 20, 0, 0x1000, MEMMAP_RAM);
    mb_entry(buf, off, 200, 0x5000, 0x1000, MEMMAP_RAM);
    memmap_init(&m);
    memmap_from_multiboot(&m, buf, off + 24);
    assert_int_equal(m.n, 1);
    memmap_init(&m);
    memmap_from_multiboot(&m, buf, 10); /* shorter than one entry */
    assert_int_equal(m.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xen_e820_typical),
        cmocka_unit_test(test_hvm_table_stride),
        cmocka_unit_test(test_hostile_entries),
        cmocka_unit_test(test_too_many_entries),
        cmocka_unit_test(test_multiboot_mmap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
