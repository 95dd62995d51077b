/* The observables of a block of log lines (shieldwall/match/extract.py) in C.
 *
 * Why C: the Python reader tokenises with bytes.translate/split, de-duplicates
 * with a Counter, joins the distinct tokens and runs one big regular
 * expression over them, finds URLs with a second one and sums the counts per
 * value in Python; each step is C, but between them every token becomes a
 * bytes object, is hashed with SipHash more than once and is walked by the
 * regex engine's generic loop (measured: ~7-10 us a log line in all, where
 * issue 6 asks for 300,000 lines per CPU-second, 3.3 us a line). Here one
 * pass cuts the block at the delimiters, classifies each token that may be a
 * value with hand-written matchers and counts the value in a C hash table; a
 * second pass finds the URLs, counted the same way, and adds their values and
 * hosts. No Python object is made per token: only one str per distinct value,
 * one bytes per distinct URL.
 *
 * `read_block(data, max_collisions)` returns `(lines, values, counts, urls, foreign)`:
 *   lines   the number of line ends in `data`;
 *   values  {kind: [distinct value, ...]}, from tokens and URLs (with their hosts);
 *   counts  {kind: [occurrences of each value, in the same order]};
 *   urls    {distinct URL as read: occurrences};
 *   foreign the URLs with a non-ASCII byte, whose observables (the URL and its
 *           host, from the text decoded as UTF-8) are left to Python: decoding
 *           with replacement and Unicode digits keep one implementation;
 * or None when the hash tables needed more than `max_collisions` extra probes
 * (a block crafted to collide: the caller reads it in Python, so a scan's cost
 * stays linear in its input whatever the log holds), or when the block or a
 * value is too large for the tables' 32-bit offsets.
 *
 * Every matcher below is the regular expression of extract.py it names,
 * written as the deterministic parse those expressions allow (tokens hold no
 * delimiter, so e.g. the `\[` and `\]` of the IPv6 expression never match);
 * tests/match/test_compiled_extract.py compares the two readers on generated,
 * real and random logs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { K_IPV4, K_IPV6, K_DOMAIN, K_MD5, K_SHA1, K_SHA256, K_SHA512, K_EMAIL, K_URL, K_COUNT };
static const char *const KIND_NAMES[K_COUNT] = {"ipv4",   "ipv6",   "domain", "md5", "sha1",
                                                "sha256", "sha512", "email",  "url"};
static PyObject *kind_names[K_COUNT];

/* Character classes (bit flags), filled by init_classes. */
enum {
    C_DELIM = 1,    /* white space (bytes.split) or one of extract._DELIMITERS */
    C_DIGIT = 2,    /* [0-9] */
    C_HEX = 4,      /* [0-9A-Fa-f] */
    C_ALNUM = 8,    /* [A-Za-z0-9] */
    C_WORD = 16,    /* \w of a bytes pattern: [A-Za-z0-9_] */
    C_LOCAL = 32,   /* [\w.%+-], an e-mail address's local part */
    C_URL_STOP = 64, /* ends a URL: [\s"'<>\\`|] */
    C_WORD_DASH = 128, /* [\w-] */
    C_TRAILING = 256,  /* cut from a URL's end: [.,;:)\]}] */
    C_DOT = 512,       /* . */
    C_COLON = 1024,    /* : */
    C_IPV6 = 2048      /* [0-9A-Fa-f:.] */
};
static unsigned short classes[256];

static void init_classes(void) {
    const char *delimiters = "\"',;<>()[]{}|=`\\ \t\n\r\x0b\x0c";
    for (const char *c = delimiters; *c; c++) {
        classes[(unsigned char)*c] |= C_DELIM;
    }
    for (int c = '0'; c <= '9'; c++) {
        classes[c] |= C_DIGIT | C_HEX | C_ALNUM | C_WORD | C_LOCAL;
    }
    for (int c = 'a'; c <= 'z'; c++) {
        int flags = C_ALNUM | C_WORD | C_LOCAL | (c <= 'f' ? C_HEX : 0);
        classes[c] |= flags;
        classes[c - 'a' + 'A'] |= flags;
    }
    classes['_'] |= C_WORD | C_LOCAL;
    for (int c = 0; c < 256; c++) {
        if (classes[c] & C_WORD) {
            classes[c] |= C_WORD_DASH;
        }
    }
    classes['-'] |= C_WORD_DASH;
    for (const char *c = ".,;:)]}"; *c; c++) {
        classes[(unsigned char)*c] |= C_TRAILING;
    }
    classes['.'] |= C_DOT | C_IPV6;
    classes[':'] |= C_COLON | C_IPV6;
    for (int c = 0; c < 256; c++) {
        if (classes[c] & C_HEX) {
            classes[c] |= C_IPV6;
        }
    }
    for (const char *c = ".%+-"; *c; c++) {
        classes[(unsigned char)*c] |= C_LOCAL;
    }
    for (const char *c = " \t\n\r\x0b\x0c\"'<>\\`|"; *c; c++) {
        classes[(unsigned char)*c] |= C_URL_STOP;
    }
}

#define IS(c, flag) (classes[(unsigned char)(c)] & (flag))

static int is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c | 0x20 : c; }

/* ------------------------------------------------------------------ matchers */

/* The length of a run of `flag` characters from `at`. */
static size_t run(const unsigned char *t, size_t n, size_t at, int flag) {
    size_t end = at;
    while (end < n && IS(t[end], flag)) {
        end++;
    }
    return end - at;
}

/* `(?:X{1,most}SEP){groups-1}X{1,most}` from the token's start, X the class `flag`:
 * the length it covers, or 0. Each run is followed by a character outside
 * the class, so it is taken whole (no backtracking). */
static size_t groups(const unsigned char *t, size_t n, int flag, size_t most, int groups_wanted,
                     unsigned char separator) {
    size_t at = 0;
    for (int group = 0; group < groups_wanted; group++) {
        size_t length = run(t, n, at, flag);
        if (length < 1 || length > most) {
            return 0;
        }
        at += length;
        if (group < groups_wanted - 1) {
            if (at >= n || t[at] != separator) {
                return 0;
            }
            at++;
        }
    }
    return at;
}

/* `(?::\d{1,5})?\.?` then the token's end, from `at`. */
static int port_and_dot(const unsigned char *t, size_t n, size_t at) {
    if (at < n && t[at] == ':') {
        size_t digits = run(t, n, at + 1, C_DIGIT);
        if (digits < 1 || digits > 5) {
            return 0;
        }
        at += 1 + digits;
    }
    return at == n || (t[at] == '.' && at + 1 == n);
}

/* `(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?::\d{1,5})?\.?`: the value's length, or 0. */
static size_t match_ipv4(const unsigned char *t, size_t n) {
    size_t at = groups(t, n, C_DIGIT, 3, 4, '.');
    return at && port_and_dot(t, n, at) ? at : 0;
}

/* `[0-9A-Fa-f:]*::[0-9A-Fa-f:.]*|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}` over the whole token
 * (the brackets and `]:port` of the expression are delimiters, never in a token). */
static size_t match_ipv6(const unsigned char *t, size_t n) {
    size_t first_dot = n, first_pair = n;
    for (size_t at = 0; at < n; at++) {
        unsigned char c = t[at];
        if (c == ':') {
            if (first_pair == n && at + 1 < n && t[at + 1] == ':') {
                first_pair = at;
            }
        } else if (c == '.') {
            if (first_dot == n) {
                first_dot = at;
            }
        } else if (!IS(c, C_HEX)) {
            return 0;
        }
    }
    /* The first form: a `::` with no dot before it. */
    if (first_pair < first_dot) {
        return n;
    }
    if (first_dot < n) {
        return 0;
    }
    /* The second: eight groups of 1-4 hex digits. */
    return groups(t, n, C_HEX, 4, 8, ':') == n ? n : 0;
}

/* `[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?`, all of t[0:n]. */
static int is_label(const unsigned char *t, size_t n) {
    if (n < 1 || n > 63 || !IS(t[0], C_WORD)) {
        return 0;
    }
    if (n == 1) {
        return 1;
    }
    for (size_t at = 1; at + 1 < n; at++) {
        if (!IS(t[at], C_WORD_DASH)) {
            return 0;
        }
    }
    return IS(t[n - 1], C_ALNUM) != 0;
}

/* `[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]`, all of t[0:n]. */
static int is_top_label(const unsigned char *t, size_t n) {
    if (n < 2 || n > 63 || !is_alpha(t[0]) || !IS(t[n - 1], C_ALNUM)) {
        return 0;
    }
    for (size_t at = 1; at + 1 < n; at++) {
        if (!IS(t[at], C_ALNUM) && t[at] != '-') {
            return 0;
        }
    }
    return 1;
}

/* `((?:label\.)+top)(?::\d{1,5})?\.?`. A name holds no `:` and ends with no dot, so the
 * port starts at the first `:` and a last dot without one is the optional one. */
static size_t match_domain(const unsigned char *t, size_t n) {
    const unsigned char *colon = memchr(t, ':', n);
    size_t host;
    if (colon != NULL) {
        host = (size_t)(colon - t);
        if (!port_and_dot(t, n, host)) {
            return 0;
        }
    } else {
        host = n > 0 && t[n - 1] == '.' ? n - 1 : n;
    }
    size_t start = 0, labels = 0;
    for (;;) {
        const unsigned char *dot = memchr(t + start, '.', host - start);
        if (dot == NULL) {
            return labels > 0 && is_top_label(t + start, host - start) ? host : 0;
        }
        size_t end = (size_t)(dot - t);
        if (!is_label(t + start, end - start)) {
            return 0;
        }
        labels++;
        start = end + 1;
    }
}

/* `[0-9a-fA-F]{32}|{40}|{64}|{128}`: the kind, or -1. */
static int match_hash(const unsigned char *t, size_t n) {
    int kind = n == 32 ? K_MD5 : n == 40 ? K_SHA1 : n == 64 ? K_SHA256 : n == 128 ? K_SHA512 : -1;
    if (kind < 0 || run(t, n, 0, C_HEX) != n) {
        return -1;
    }
    return kind;
}

/* `([\w.%+-]+@[\w-]+(?:\.[\w-]+)+)\.?`; the domain ends with [\w-], so a last dot is the
 * optional one. */
static size_t match_email(const unsigned char *t, size_t n) {
    const unsigned char *at_sign = memchr(t, '@', n);
    if (at_sign == NULL) {
        return 0;
    }
    size_t local = (size_t)(at_sign - t);
    if (local == 0 || run(t, n, 0, C_LOCAL) != local) {
        return 0;
    }
    size_t end = n > 0 && t[n - 1] == '.' ? n - 1 : n;
    size_t start = local + 1, parts = 0;
    for (;;) {
        size_t length = run(t, end, start, C_WORD_DASH);
        if (length == 0) {
            return 0;
        }
        parts++;
        start += length;
        if (start == end) {
            return parts >= 2 ? end : 0;
        }
        if (t[start] != '.') {
            return 0;
        }
        start++;
    }
}

/* The first expression of extract._TOKEN_VALUE that matches the whole token: its kind
 * and the length of the value (a prefix of the token), or -1. */
static int classify(const unsigned char *t, size_t n, size_t *value) {
    if ((*value = match_ipv4(t, n))) {
        return K_IPV4;
    }
    if ((*value = match_ipv6(t, n))) {
        return K_IPV6;
    }
    if ((*value = match_domain(t, n))) {
        return K_DOMAIN;
    }
    int hashed = match_hash(t, n);
    if (hashed >= 0) {
        *value = n;
        return hashed;
    }
    if ((*value = match_email(t, n))) {
        return K_EMAIL;
    }
    return -1;
}

/* ------------------------------------------------------------------ hash tables */

/* Keyed per process (os.urandom at import): a log cannot aim at one layout. */
static uint64_t seed;

static inline uint64_t mix(uint64_t h) {
    h ^= h >> 31;
    h *= 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

static inline uint64_t load64(const unsigned char *data) {
    uint64_t word;
    memcpy(&word, data, 8);
    return word;
}

static inline uint64_t load32(const unsigned char *data) {
    uint32_t word;
    memcpy(&word, data, 4);
    return word;
}

/* Eight bytes a step: values are short, a byte-at-a-time hash would cost more than the
 * probe. The last bytes are read with fixed-size loads that may overlap bytes already
 * read (the length is hashed too, so no two keys read alike), so hashing makes no
 * libc call (a memcpy of a variable length would be one per value). */
static uint32_t hash_bytes(const unsigned char *data, size_t length, uint64_t key) {
    uint64_t h = seed ^ (key << 56) ^ (uint64_t)length;
    if (length >= 8) {
        const unsigned char *last = data + length - 8;
        for (; data < last; data += 8) {
            h = mix(h ^ load64(data));
        }
        h = mix(h ^ load64(last));
    } else if (length >= 4) {
        h = mix(h ^ load32(data) ^ load32(data + length - 4) << 32);
    } else if (length > 0) {
        h = mix(h ^ data[0] ^ (uint64_t)data[length / 2] << 8 ^ (uint64_t)data[length - 1] << 16);
    } else {
        h = mix(h);
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* A value (or a URL) and how often it occurs; 16 bytes, so a 4 MiB block's ~100,000
 * distinct values fit in a few MiB of cache-friendly slots. The bytes are a slice
 * of the block, or of the arena when the value is not (a hash or host in lower
 * case, `hxxp` read as `http`). */
typedef struct {
    uint32_t hash;
    uint32_t start;
    uint32_t meta; /* the length (LENGTH_BITS), the kind, IN_ARENA */
    uint32_t count; /* 0: an empty slot */
} Entry;

#define LENGTH_BITS 26
#define MAX_LENGTH ((1u << LENGTH_BITS) - 1)
#define KIND_SHIFT LENGTH_BITS
#define IN_ARENA (1u << 31)
#define LENGTH(meta) ((meta) & MAX_LENGTH)
#define KIND(meta) (((meta) >> KIND_SHIFT) & 15u)

typedef struct {
    Entry *slots;
    size_t mask;
    size_t used;
} Table;

/* The slots of a finished block's table, kept for the next block (taken and given
 * back with the GIL held): the fresh pages of a new multi-MiB table cost a page
 * fault each (measured: the kernel clearing pages took 12% of the reader's time,
 * about half of it for these tables). One per table; at most a few MiB, the size
 * of the largest block's. */
typedef struct {
    Entry *slots;
    size_t capacity;
} Spare;
static Spare spare_values, spare_urls;

static int table_init(Table *table, size_t wanted, Spare *spare) {
    size_t capacity = 1024;
    while (capacity < wanted) {
        capacity <<= 1;
    }
    /* A spare up to 4 times too large is cheaper to clear than new pages are to fault. */
    if (spare->slots != NULL && spare->capacity >= capacity && spare->capacity <= 4 * capacity) {
        capacity = spare->capacity;
        table->slots = spare->slots;
        spare->slots = NULL;
        memset(table->slots, 0, capacity * sizeof(Entry));
    } else {
        table->slots = PyMem_RawCalloc(capacity, sizeof(Entry));
    }
    table->mask = capacity - 1;
    table->used = 0;
    return table->slots == NULL ? -1 : 0;
}

/* Keeps the larger of the table's slots and the spare for the next block. */
static void table_release(Table *table, Spare *spare) {
    if (table->slots == NULL) {
        return;
    }
    if (spare->slots == NULL || spare->capacity < table->mask + 1) {
        PyMem_RawFree(spare->slots);
        spare->slots = table->slots;
        spare->capacity = table->mask + 1;
    } else {
        PyMem_RawFree(table->slots);
    }
    table->slots = NULL;
}

static int table_grow(Table *table) {
    size_t capacity = (table->mask + 1) * 2;
    Entry *slots = PyMem_RawCalloc(capacity, sizeof(Entry));
    if (slots == NULL) {
        return -1;
    }
    size_t mask = capacity - 1;
    for (size_t at = 0; at <= table->mask; at++) {
        Entry *entry = &table->slots[at];
        if (entry->count) {
            size_t to = entry->hash & mask;
            while (slots[to].count) {
                to = (to + 1) & mask;
            }
            slots[to] = *entry;
        }
    }
    PyMem_RawFree(table->slots);
    table->slots = slots;
    table->mask = mask;
    return 0;
}

/* ------------------------------------------------------------------ the passes */

typedef struct {
    const unsigned char *data;
    size_t size;
    Table values;
    Table urls;
    unsigned char *arena; /* the bytes of values that are no slice of the block */
    size_t arena_used, arena_size;
    size_t collisions, budget; /* extra probes so far, and how many the caller allows */
    Py_ssize_t lines;
} Found;

/* Status of the passes: go on, out of memory, or leave the block to Python. */
enum { OK = 0, NO_MEMORY = -1, TO_PYTHON = 1 };

static const unsigned char *bytes_of(const Found *found, uint32_t start, uint32_t meta) {
    return (meta & IN_ARENA ? found->arena : found->data) + start;
}

/* Adds `count` to the key (bytes at `start`, length and kind in `meta`); *added
 * tells whether it was new. */
static int table_add(Found *found, Table *table, uint32_t start, uint32_t meta, uint32_t count,
                     int *added) {
    const unsigned char *key = bytes_of(found, start, meta);
    uint32_t length = LENGTH(meta);
    uint32_t hash = hash_bytes(key, length, KIND(meta));
    size_t at = hash & table->mask;
    for (;;) {
        Entry *entry = &table->slots[at];
        if (entry->count == 0) {
            entry->hash = hash;
            entry->start = start;
            entry->meta = meta;
            entry->count = count;
            *added = 1;
            /* Linear probing stays short below half full. */
            if (++table->used * 2 > table->mask + 1 && table_grow(table) < 0) {
                return NO_MEMORY;
            }
            return OK;
        }
        if (entry->hash == hash && (entry->meta & ~IN_ARENA) == (meta & ~IN_ARENA) &&
            memcmp(bytes_of(found, entry->start, entry->meta), key, length) == 0) {
            /* Counts stay below 2**32: a block is smaller than 4 GiB. */
            entry->count += count;
            *added = 0;
            return OK;
        }
        if (++found->collisions > found->budget) {
            return TO_PYTHON;
        }
        at = (at + 1) & table->mask;
    }
}

/* Room for `length` more bytes at the arena's end (offsets stay 32-bit). */
static int arena_reserve(Found *found, size_t length) {
    if (found->arena_used + length <= found->arena_size) {
        return OK;
    }
    size_t size = (found->arena_size + length) * 2;
    if (size > UINT32_MAX) {
        return TO_PYTHON;
    }
    unsigned char *arena = PyMem_RawRealloc(found->arena, size);
    if (arena == NULL) {
        return NO_MEMORY;
    }
    found->arena = arena;
    found->arena_size = size;
    return OK;
}

/* Counts the value just written at the arena's end; it stays there if it is new. */
static int add_arena_value(Found *found, int kind, size_t length, uint32_t count) {
    uint32_t meta = (uint32_t)length | (uint32_t)kind << KIND_SHIFT | IN_ARENA;
    int added;
    int status =
        table_add(found, &found->values, (uint32_t)found->arena_used, meta, count, &added);
    if (status == OK && added) {
        found->arena_used += length;
    }
    return status;
}

/* Counts a value that is a slice of the block (or, `lowered`, that slice in lower case). */
static int add_value(Found *found, int kind, size_t start, size_t length, uint32_t count,
                     int lowered) {
    if (length > MAX_LENGTH) {
        return TO_PYTHON;
    }
    const unsigned char *value = found->data + start;
    size_t upper = 0;
    while (lowered && upper < length && !(value[upper] >= 'A' && value[upper] <= 'Z')) {
        upper++;
    }
    if (!lowered || upper == length) { /* already as it is read: the slice itself */
        uint32_t meta = (uint32_t)length | (uint32_t)kind << KIND_SHIFT;
        int added;
        return table_add(found, &found->values, (uint32_t)start, meta, count, &added);
    }
    int status = arena_reserve(found, length);
    if (status != OK) {
        return status;
    }
    unsigned char *copy = found->arena + found->arena_used;
    for (size_t at = 0; at < length; at++) {
        copy[at] = lower(value[at]);
    }
    return add_arena_value(found, kind, length, count);
}

/* Whether a token may be a value: every kind but a hash has a dot (IPv4, a domain, an
 * e-mail address) or is IPv6 (hex digits and at least two colons, else neither `::`
 * nor eight groups); a hash has one of four lengths. Most tokens of a log are none
 * of these (words, numbers, ports, `key:value`, dates) and are dropped here, from
 * bits gathered while cutting the token (measured when each token still went into
 * a table of tokens: the reader went from 2.0 to 1.4 us a line). */
static int may_be_value(const unsigned char *token, size_t length, unsigned any, unsigned all) {
    if (any & C_DOT) {
        return 1;
    }
    if (length == 32 || length == 40 || length == 64 || length == 128) {
        return 1;
    }
    if ((all & C_IPV6) && (any & C_COLON)) {
        const unsigned char *colon = memchr(token, ':', length);
        return memchr(colon + 1, ':', length - (size_t)(colon + 1 - token)) != NULL;
    }
    return 0;
}

/* Tokens at the delimiters of extract._TO_SPACE plus white space, each value counted.
 * A token is classified at each occurrence rather than once per distinct token:
 * most tokens that may be values are, and a table of distinct tokens cost a cache
 * miss per new token on top of the one on its value (measured: dropping it and the
 * dictionaries per kind took the reader from 1.4 to 1.1 us a line). */
static int find_tokens(Found *found) {
    const unsigned char *data = found->data;
    size_t size = found->size, at = 0;
    while (at < size) {
        unsigned char c = data[at];
        if (IS(c, C_DELIM)) {
            found->lines += c == '\n';
            at++;
            continue;
        }
        size_t start = at;
        unsigned any = 0, all = 0xffff;
        for (; at < size; at++) {
            unsigned flags = classes[data[at]];
            if (flags & C_DELIM) {
                break;
            }
            any |= flags;
            all &= flags;
        }
        if (!may_be_value(data + start, at - start, any, all)) {
            continue;
        }
        size_t length;
        int kind = classify(data + start, at - start, &length);
        if (kind >= 0) {
            /* Hash values are read in lower case (extract.py: `raw.decode().lower()`). */
            int status = add_value(found, kind, start, length, 1, kind >= K_MD5 && kind <= K_SHA512);
            if (status != OK) {
                return status;
            }
        }
    }
    return OK;
}

static const struct {
    const char *name;
    size_t length;
} SCHEMES[] = {{"https", 5}, {"hxxps", 5}, {"http", 4}, {"hxxp", 4}, {"ftp", 3}};

/* extract._URL's matches, non-overlapping, through extract._with_scheme, counted. */
static int find_urls(Found *found) {
    const unsigned char *data = found->data;
    size_t size = found->size, cursor = 0;
    while (cursor < size) {
        const unsigned char *colon = memchr(data + cursor, ':', size - cursor);
        if (colon == NULL) {
            break;
        }
        size_t start = (size_t)(colon - data);
        if (start + 2 >= size || data[start + 1] != '/' || data[start + 2] != '/') {
            cursor = start + 1;
            continue;
        }
        size_t end = start + 3;
        while (end < size && !IS(data[end], C_URL_STOP)) {
            end++;
        }
        if (end == start + 3) { /* `://` then nothing: the regex tries the next position */
            cursor = start + 1;
            continue;
        }
        cursor = end;
        for (size_t s = 0; s < sizeof SCHEMES / sizeof SCHEMES[0]; s++) {
            size_t length = SCHEMES[s].length;
            if (start < length) {
                continue;
            }
            size_t cut = start - length, i = 0;
            while (i < length && lower(data[cut + i]) == (unsigned char)SCHEMES[s].name[i]) {
                i++;
            }
            if (i < length || (cut > 0 && is_alpha(data[cut - 1]))) {
                continue;
            }
            /* rstrip(".,;:)]}"), never into the `//` */
            size_t last = end;
            while (last > start + 3 && IS(data[last - 1], C_TRAILING)) {
                last--;
            }
            if (last - cut > MAX_LENGTH) {
                return TO_PYTHON;
            }
            int added, status = table_add(found, &found->urls, (uint32_t)cut,
                                          (uint32_t)(last - cut), 1, &added);
            if (status != OK) {
                return status;
            }
            break;
        }
    }
    return OK;
}

static int is_ascii(const unsigned char *data, size_t length) {
    for (size_t at = 0; at < length; at++) {
        if (data[at] >= 0x80) {
            return 0;
        }
    }
    return 1;
}

/* The host of an ASCII URL (extract.url_host), counted as a value. */
static int add_url_host(Found *found, size_t url, size_t length, uint32_t count) {
    const unsigned char *data = found->data;
    const unsigned char *colon = memchr(data + url, ':', length); /* the scheme's: `://` follows */
    size_t start = (size_t)(colon - data) + 3, end = start, stop = url + length;
    while (end < stop && data[end] != '/' && data[end] != '?' && data[end] != '#') {
        end++;
    }
    for (size_t at = end; at > start; at--) { /* after the last `@` */
        if (data[at - 1] == '@') {
            start = at;
            break;
        }
    }
    if (start < end && data[start] == '[') {
        const unsigned char *close = memchr(data + start + 1, ']', end - start - 1);
        size_t last = close != NULL ? (size_t)(close - data) : end;
        return add_value(found, K_IPV6, start + 1, last - start - 1, count, 0);
    }
    size_t colons = 0, last_colon = end;
    for (size_t at = start; at < end; at++) {
        if (data[at] == ':') {
            colons++;
            last_colon = at;
        }
    }
    if (colons == 1) {
        end = last_colon;
    }
    /* `\d{1,3}(?:\.\d{1,3}){3}`, the whole host */
    size_t at = start;
    int part = 0;
    for (; part < 4; part++) {
        size_t digits = run(data, end, at, C_DIGIT);
        if (digits < 1 || digits > 3) {
            break;
        }
        at += digits;
        if (part < 3) {
            if (at >= end || data[at] != '.') {
                break;
            }
            at++;
        }
    }
    if (part == 4 && at == end) {
        return add_value(found, K_IPV4, start, end - start, count, 0);
    }
    if (memchr(data + start, '.', end - start) != NULL) {
        return add_value(found, K_DOMAIN, start, end - start, count, 1);
    }
    return OK;
}

/* Each distinct ASCII URL's value and host (a URL with a non-ASCII byte is left to Python). */
static int add_urls(Found *found) {
    for (size_t at = 0; at <= found->urls.mask; at++) {
        Entry *entry = &found->urls.slots[at];
        if (entry->count == 0) {
            continue;
        }
        const unsigned char *url = found->data + entry->start;
        size_t length = LENGTH(entry->meta);
        if (!is_ascii(url, length)) {
            continue;
        }
        /* `hxxp://` is read as `http://`: in lower case, as extract._url_observables has it */
        int status, hxxp = length >= 4 && lower(url[0]) == 'h' && lower(url[1]) == 'x' &&
                           lower(url[2]) == 'x' && lower(url[3]) == 'p';
        if (!hxxp) {
            status = add_value(found, K_URL, entry->start, length, entry->count, 0);
        } else if ((status = arena_reserve(found, length)) == OK) {
            unsigned char *copy = found->arena + found->arena_used;
            memcpy(copy, "http", 4);
            memcpy(copy + 4, url + 4, length - 4);
            status = add_arena_value(found, K_URL, length, entry->count);
        }
        if (status == OK) {
            status = add_url_host(found, entry->start, length, entry->count);
        }
        if (status != OK) {
            return status;
        }
    }
    return OK;
}

/* ------------------------------------------------------------------ results */

static PyObject *ascii_str(const unsigned char *data, size_t length) {
    PyObject *text = PyUnicode_New((Py_ssize_t)length, 127);
    if (text != NULL) {
        memcpy(PyUnicode_1BYTE_DATA(text), data, length);
    }
    return text;
}

/* {kind: [value, ...]} and {kind: [count, ...]}, from the values table. */
static int value_lists(const Found *found, PyObject *values, PyObject *counts) {
    Py_ssize_t sizes[K_COUNT] = {0}, filled[K_COUNT] = {0};
    PyObject *lists[K_COUNT][2] = {{NULL}};
    int failed = 0;
    for (size_t at = 0; at <= found->values.mask; at++) {
        if (found->values.slots[at].count) {
            sizes[KIND(found->values.slots[at].meta)]++;
        }
    }
    for (int kind = 0; kind < K_COUNT && !failed; kind++) {
        if (sizes[kind] == 0) {
            continue;
        }
        failed = (lists[kind][0] = PyList_New(sizes[kind])) == NULL ||
                 (lists[kind][1] = PyList_New(sizes[kind])) == NULL ||
                 PyDict_SetItem(values, kind_names[kind], lists[kind][0]) < 0 ||
                 PyDict_SetItem(counts, kind_names[kind], lists[kind][1]) < 0;
    }
    /* The values' bytes lie all over the block, long out of cache: each is fetched
     * ahead, 32 slots before its str is made, so the misses overlap (measured: the
     * copies into the strs took 15% of the reader's time without). */
    size_t ahead = 0;
    for (size_t at = 0; at <= found->values.mask && !failed; at++) {
        for (; ahead <= found->values.mask && ahead < at + 32; ahead++) {
            const Entry *next = &found->values.slots[ahead];
            if (next->count) {
                __builtin_prefetch(bytes_of(found, next->start, next->meta));
            }
        }
        const Entry *entry = &found->values.slots[at];
        if (entry->count == 0) {
            continue;
        }
        int kind = KIND(entry->meta);
        PyObject *value = ascii_str(bytes_of(found, entry->start, entry->meta), LENGTH(entry->meta));
        PyObject *count = PyLong_FromUnsignedLong(entry->count);
        if (value == NULL || count == NULL) {
            Py_XDECREF(value);
            Py_XDECREF(count);
            failed = 1;
            break;
        }
        PyList_SET_ITEM(lists[kind][0], filled[kind], value);
        PyList_SET_ITEM(lists[kind][1], filled[kind], count);
        filled[kind]++;
    }
    for (int kind = 0; kind < K_COUNT; kind++) {
        Py_XDECREF(lists[kind][0]);
        Py_XDECREF(lists[kind][1]);
    }
    return failed ? -1 : 0;
}

/* {url: count} and the list of non-ASCII URLs, from the URL table. */
static int url_counts(const Found *found, PyObject *by_url, PyObject *foreign) {
    for (size_t at = 0; at <= found->urls.mask; at++) {
        const Entry *entry = &found->urls.slots[at];
        if (entry->count == 0) {
            continue;
        }
        const unsigned char *url = found->data + entry->start;
        size_t length = LENGTH(entry->meta);
        PyObject *raw = PyBytes_FromStringAndSize((const char *)url, (Py_ssize_t)length);
        if (raw == NULL) {
            return -1;
        }
        PyObject *count = PyLong_FromUnsignedLong(entry->count);
        int failed = count == NULL || PyDict_SetItem(by_url, raw, count) < 0 ||
                     (!is_ascii(url, length) && PyList_Append(foreign, raw) < 0);
        Py_XDECREF(count);
        Py_DECREF(raw);
        if (failed) {
            return -1;
        }
    }
    return 0;
}

static PyObject *results(const Found *found) {
    PyObject *values = PyDict_New(), *counts = PyDict_New();
    PyObject *by_url = PyDict_New(), *foreign = PyList_New(0), *out = NULL;
    if (values != NULL && counts != NULL && by_url != NULL && foreign != NULL &&
        value_lists(found, values, counts) == 0 && url_counts(found, by_url, foreign) == 0) {
        out = Py_BuildValue("nOOOO", found->lines, values, counts, by_url, foreign);
    }
    Py_XDECREF(values);
    Py_XDECREF(counts);
    Py_XDECREF(by_url);
    Py_XDECREF(foreign);
    return out;
}

static PyObject *read_block(PyObject *module, PyObject *args) {
    Py_buffer view;
    Py_ssize_t max_collisions;
    if (!PyArg_ParseTuple(args, "y*n", &view, &max_collisions)) {
        return NULL;
    }
    /* Immutable bytes only: the passes read the data without the GIL, and a
     * bytearray could change under them (found in review: strings marked ASCII
     * that were not). */
    if (view.obj == NULL || !PyBytes_Check(view.obj)) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_TypeError, "read_block takes bytes");
        return NULL;
    }
    /* Slices are kept as 32-bit offsets; a block that large goes to Python. */
    if ((size_t)view.len >= UINT32_MAX || max_collisions < 0) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    Found found = {.data = view.buf, .size = (size_t)view.len, .budget = (size_t)max_collisions};
    PyObject *out = NULL;
    int status = NO_MEMORY;
    if (table_init(&found.values, found.size / 64, &spare_values) == 0 &&
        table_init(&found.urls, found.size / 512, &spare_urls) == 0) {
        /* The passes touch no Python object: other threads run meanwhile. */
        Py_BEGIN_ALLOW_THREADS;
        status = find_tokens(&found);
        if (status == OK) {
            status = find_urls(&found);
        }
        if (status == OK) {
            status = add_urls(&found);
        }
        Py_END_ALLOW_THREADS;
    }
    if (status == NO_MEMORY) {
        PyErr_NoMemory();
    } else if (status == TO_PYTHON) {
        out = Py_NewRef(Py_None);
    } else {
        out = results(&found);
    }
    table_release(&found.values, &spare_values);
    table_release(&found.urls, &spare_urls);
    PyMem_RawFree(found.arena);
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef methods[] = {
    {"read_block", read_block, METH_VARARGS,
     "read_block(data, max_collisions) -> (lines, values, counts, urls, foreign) | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_extract", "Observables of a block of log lines, in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__extract(void) {
    init_classes();
    for (int kind = 0; kind < K_COUNT; kind++) {
        if ((kind_names[kind] = PyUnicode_InternFromString(KIND_NAMES[kind])) == NULL) {
            return NULL;
        }
    }
    PyObject *os = PyImport_ImportModule("os");
    PyObject *random = os == NULL ? NULL : PyObject_CallMethod(os, "urandom", "i", 8);
    Py_XDECREF(os);
    if (random == NULL) {
        return NULL;
    }
    memcpy(&seed, PyBytes_AS_STRING(random), sizeof seed);
    Py_DECREF(random);
    return PyModule_Create(&module);
}
