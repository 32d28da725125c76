/*
 * mg_xmlmem.h - a counting allocator for libxml2, shared by the XML-RPC
 * inspector's unit tests and its benchmark: install it with
 * xmlMemSetup(mem_free, mem_malloc, mem_realloc, mem_strdup) before
 * xmlInitParser(); mem_cur is what libxml2 holds now, mem_peak the most it
 * held since the last mem_mark().
 */
#ifndef MG_XMLMEM_H
#define MG_XMLMEM_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Each block carries its size in front; the union keeps the alignment. */
typedef union {
    size_t size;
    max_align_t align;
} mem_hdr_t;

static size_t mem_cur, mem_peak;

static void *mem_malloc(size_t n)
{
    mem_hdr_t *h = malloc(sizeof(*h) + n);

    if (h == NULL) {
        return NULL;
    }
    h->size = n;
    mem_cur += n;
    if (mem_cur > mem_peak) {
        mem_peak = mem_cur;
    }
    return h + 1;
}

static void mem_free(void *p)
{
    mem_hdr_t *h;

    if (p == NULL) {
        return;
    }
    h = (mem_hdr_t *)p - 1;
    mem_cur -= h->size;
    free(h);
}

static void *mem_realloc(void *p, size_t n)
{
    mem_hdr_t *h;
    size_t old;

    if (p == NULL) {
        return mem_malloc(n);
    }
    h = (mem_hdr_t *)p - 1;
    old = h->size;
    h = realloc(h, sizeof(*h) + n);
    if (h == NULL) {
        return NULL;
    }
    h->size = n;
    mem_cur = mem_cur - old + n;
    if (mem_cur > mem_peak) {
        mem_peak = mem_cur;
    }
    return h + 1;
}

static char *mem_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = mem_malloc(n);

    if (p != NULL) {
        memcpy(p, s, n);
    }
    return p;
}

/* Start measuring: returns the baseline. */
static inline size_t mem_mark(void)
{
    mem_peak = mem_cur;
    return mem_cur;
}

#endif /* MG_XMLMEM_H */
