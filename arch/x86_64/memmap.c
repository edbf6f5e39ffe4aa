/* memmap.c: parsing and sanitizing memory maps. See memmap.h. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86_64/memmap.h"

void memmap_init(struct memmap *m)
{
    m->n = 0;
    m->ignored = 0;
}

int memmap_add(struct memmap *m, uint64_t base, uint64_t len, uint32_t type)
{
    if (len == 0 || base >= MEMMAP_MAX_ADDR || m->n == MEMMAP_MAX) {
        m->ignored++;
        return 0;
    }
    if (len > MEMMAP_MAX_ADDR - base)
        len = MEMMAP_MAX_ADDR - base; /* also catches base + len wrapping */
    unsigned i = m->n++;
    for (; i > 0 && m->e[i - 1].base > base; i--)
        m->e[i] = m->e[i - 1];
    m->e[i] = (struct memmap_entry){ base, len, type };
    return 1;
}

void memmap_from_table(struct memmap *m, const void *table, size_t count, size_t stride)
{
    const unsigned char *p = table;
    if (stride < 20)
        return;
    for (size_t i = 0; i < count; i++, p += stride) {
        if (m->n == MEMMAP_MAX) { /* the rest cannot be kept: count, do not read them */
            m->ignored += (unsigned)(count - i > 0xffff ? 0xffff : count - i);
            return;
        }
        uint64_t base, len;
        uint32_t type;
        memcpy(&base, p, 8);
        memcpy(&len, p + 8, 8);
        memcpy(&type, p + 16, 4);
        memmap_add(m, base, len, type);
    }
}

void memmap_from_multiboot(struct memmap *m, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    size_t off = 0;
    while (len - off >= 24 && m->n < MEMMAP_MAX) {
        uint32_t size, type;
        uint64_t base, length;
        memcpy(&size, p + off, 4);
        if (size < 20 || size > len - off - 4)
            break;
        memcpy(&base, p + off + 4, 8);
        memcpy(&length, p + off + 12, 8);
        memcpy(&type, p + off + 20, 4);
        memmap_add(m, base, length, type);
        off += (size_t)size + 4; /* <= len, by the check above */
    }
}

uint64_t memmap_ram_bytes(const struct memmap *m)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < m->n; i++)
        if (m->e[i].type == MEMMAP_RAM)
            sum += m->e[i].len; /* each < 2^52 and at most 64 of them: no overflow */
    return sum;
}

unsigned memmap_ram_ranges(const struct memmap *m)
{
    unsigned k = 0;
    for (unsigned i = 0; i < m->n; i++)
        k += m->e[i].type == MEMMAP_RAM;
    return k;
}

const char *memmap_type_name(uint32_t type)
{
    switch (type) {
    case MEMMAP_RAM:      return "ram";
    case MEMMAP_RESERVED: return "reserved";
    case MEMMAP_ACPI:     return "acpi";
    case MEMMAP_NVS:      return "nvs";
    case MEMMAP_UNUSABLE: return "unusable";
    default:              return "type?";
    }
}
