/* The observables of a block of log lines (shieldwall/match/extract.py) in C.
 *
 * Why C: the Python path tokenises with bytes.translate/split, de-duplicates
 * with a set, joins the distinct tokens and runs one big regular expression
 * over them, finds URLs with a second one, and counts occurrences in a last
 * pass over every token; each step is C, but between them every token becomes
 * a bytes object, is hashed with SipHash several times and is walked by the
 * regex engine's generic loop (measured: ~10 us a log line in all, where
 * issue 6 asks for 300,000 lines per CPU-second, 3.3 us a line). Here one
 * pass cuts the block at the delimiters and counts each distinct token in a C
 * hash table (no object per token), a second finds the URLs, and hand-written
 * matchers classify each distinct token once. Python objects are made only
 * for what the caller needs: each value read (as a str), each distinct URL.
 *
 * `read_block(data, max_collisions)` returns `(lines, counts, urls, foreign)`:
 *   lines   the number of line ends in `data`;
 *   counts  {kind: {value: occurrences}}, tokens and URLs (with their hosts) together;
 *   urls    {distinct URL as read: occurrences};
 *   foreign the URLs with a non-ASCII byte, whose observables (the URL and its
 *           host, from the text decoded as UTF-8) Python adds: decoding with
 *           replacement and Unicode digits stay with one implementation;
 * or None when the hash tables needed more than `max_collisions` extra probes
 * (a crafted block: the caller then takes the Python path, so a scan's cost
 * stays linear in its input whatever the log holds).
 *
 * Every matcher below is the regular expression of extract.py it names,
 * written as the deterministic parse those expressions allow (tokens hold no
 * delimiter, so e.g. the `\[` and `\]` of the IPv6 expression never match);
 * tests/match/test_compiled_extract.py compares the two on generated, real and
 * random logs.
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

/* Eight bytes a step: tokens are short, a byte-at-a-time hash would cost more than the probe. */
static uint32_t hash_bytes(const unsigned char *data, size_t length) {
    uint64_t h = seed ^ (uint64_t)length;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, data, 8);
        h = mix(h ^ word);
        data += 8;
        length -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, data, length);
    h = mix(h ^ tail ^ 0x5bd1e9955bd1e995ULL);
    return (uint32_t)(h ^ (h >> 32));
}

/* A slice of the block and how often it occurs; 16 bytes, so a 4 MiB block's
 * ~150,000 distinct tokens fit in a few MiB of cache-friendly slots. */
typedef struct {
    uint32_t hash;
    uint32_t start;
    uint32_t length;
    uint32_t count; /* 0: an empty slot */
} Entry;

typedef struct {
    Entry *slots;
    size_t mask;
    size_t used;
    size_t collisions; /* extra probes so far, against the caller's budget */
} Table;

/* The slots of a finished block's table, kept for the next block (taken and given
 * back with the GIL held): the fresh pages of a new multi-MiB table cost a page
 * fault each (measured: 12% of the reader's time went to the kernel clearing
 * pages). One per table; at most a few MiB, the size of the largest block's. */
typedef struct {
    Entry *slots;
    size_t capacity;
} Spare;
static Spare spare_tokens, spare_urls;

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
    table->collisions = 0;
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

/* Counts one occurrence of data[start:start+length]: 0, or -1 out of memory. */
static int table_add(Table *table, const unsigned char *data, uint32_t start, uint32_t length) {
    uint32_t hash = hash_bytes(data + start, length);
    size_t at = hash & table->mask;
    for (;;) {
        Entry *entry = &table->slots[at];
        if (entry->count == 0) {
            entry->hash = hash;
            entry->start = start;
            entry->length = length;
            entry->count = 1;
            /* Linear probing stays short below half full. */
            if (++table->used * 2 > table->mask + 1) {
                return table_grow(table);
            }
            return 0;
        }
        if (entry->hash == hash && entry->length == length &&
            memcmp(data + entry->start, data + start, length) == 0) {
            entry->count++;
            return 0;
        }
        table->collisions++;
        at = (at + 1) & table->mask;
    }
}

/* ------------------------------------------------------------------ the passes */

typedef struct {
    Table tokens;
    Table urls;
    Py_ssize_t lines;
} Found;

/* Whether a token may be a value: every kind but a hash has a dot (IPv4, a domain, an
 * e-mail address) or is IPv6 (hex digits and at least two colons, else neither `::`
 * nor eight groups); a hash has one of four lengths. Most tokens of a log are none
 * of these (words, numbers, ports, `key:value`, dates): leaving them out of the
 * table saves their probe, a cache miss for a token seen once (measured: the
 * table took 30% of the reader's time when every token went in). */
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

/* Tokens at the delimiters of extract._TO_SPACE plus white space: those that may be
 * a value are counted. */
static int find_tokens(const unsigned char *data, size_t size, Found *found, size_t budget) {
    size_t at = 0;
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
        if (table_add(&found->tokens, data, (uint32_t)start, (uint32_t)(at - start)) < 0) {
            return -1;
        }
        if (found->tokens.collisions > budget) {
            return 1;
        }
    }
    return 0;
}

static const struct {
    const char *name;
    size_t length;
} SCHEMES[] = {{"https", 5}, {"hxxps", 5}, {"http", 4}, {"hxxp", 4}, {"ftp", 3}};

/* extract._URL's matches, non-overlapping, through extract._with_scheme. */
static int find_urls(const unsigned char *data, size_t size, Found *found, size_t budget) {
    size_t cursor = 0;
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
            if (table_add(&found->urls, data, (uint32_t)cut, (uint32_t)(last - cut)) < 0) {
                return -1;
            }
            if (found->urls.collisions > budget) {
                return 1;
            }
            break;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ matchers */

/* The length of a run of `flag` characters from `at`. */
static size_t run(const unsigned char *t, size_t n, size_t at, int flag) {
    size_t end = at;
    while (end < n && IS(t[end], flag)) {
        end++;
    }
    return end - at;
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

/* `(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?::\d{1,5})?\.?`: the value's length, or 0.
 * Each digit run is followed by a non-digit, so it is taken whole (no backtracking). */
static size_t match_ipv4(const unsigned char *t, size_t n) {
    size_t at = 0;
    for (int part = 0; part < 4; part++) {
        size_t digits = run(t, n, at, C_DIGIT);
        if (digits < 1 || digits > 3) {
            return 0;
        }
        at += digits;
        if (part < 3) {
            if (at >= n || t[at] != '.') {
                return 0;
            }
            at++;
        }
    }
    return port_and_dot(t, n, at) ? at : 0;
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
    size_t at = 0;
    for (int group = 0; group < 8; group++) {
        size_t digits = run(t, n, at, C_HEX);
        if (digits < 1 || digits > 4) {
            return 0;
        }
        at += digits;
        if (group < 7) {
            if (at >= n || t[at] != ':') {
                return 0;
            }
            at++;
        }
    }
    return at == n ? n : 0;
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

/* ------------------------------------------------------------------ results */

static PyObject *ascii_str(const unsigned char *data, size_t length) {
    PyObject *text = PyUnicode_New((Py_ssize_t)length, 127);
    if (text != NULL) {
        memcpy(PyUnicode_1BYTE_DATA(text), data, length);
    }
    return text;
}

static PyObject *lower_str(const unsigned char *data, size_t length) {
    PyObject *text = PyUnicode_New((Py_ssize_t)length, 127);
    if (text != NULL) {
        Py_UCS1 *out = PyUnicode_1BYTE_DATA(text);
        for (size_t at = 0; at < length; at++) {
            out[at] = lower(data[at]);
        }
    }
    return text;
}

/* counts[kind][value] += count; steals `value` (which may be NULL: an error already set). */
static int add_count(PyObject **counts, int kind, PyObject *value, uint32_t count) {
    if (value == NULL) {
        return -1;
    }
    if (counts[kind] == NULL && (counts[kind] = PyDict_New()) == NULL) {
        Py_DECREF(value);
        return -1;
    }
    PyObject *number = PyLong_FromUnsignedLong(count);
    if (number == NULL) {
        Py_DECREF(value);
        return -1;
    }
    /* One probe for a new value (the common case); a value seen before is summed. The
     * dictionary's size tells which (not `held == number`: small ints are shared). */
    Py_ssize_t before = PyDict_GET_SIZE(counts[kind]);
    PyObject *held = PyDict_SetDefault(counts[kind], value, number);
    int failed = held == NULL;
    if (held != NULL && PyDict_GET_SIZE(counts[kind]) == before) {
        PyObject *total = PyNumber_Add(held, number);
        failed = total == NULL || PyDict_SetItem(counts[kind], value, total) < 0;
        Py_XDECREF(total);
    }
    Py_DECREF(number);
    Py_DECREF(value);
    return failed ? -1 : 0;
}

static int add_tokens(const unsigned char *data, Table *tokens, PyObject **counts) {
    for (size_t at = 0; at <= tokens->mask; at++) {
        Entry *entry = &tokens->slots[at];
        if (entry->count == 0) {
            continue;
        }
        const unsigned char *token = data + entry->start;
        size_t length;
        int kind = classify(token, entry->length, &length);
        if (kind < 0) {
            continue;
        }
        /* Hash values are read in lower case (extract.py: `raw.decode().lower()`). */
        PyObject *value = kind >= K_MD5 && kind <= K_SHA512 ? lower_str(token, length)
                                                            : ascii_str(token, length);
        if (add_count(counts, kind, value, entry->count) < 0) {
            return -1;
        }
    }
    return 0;
}

/* extract.url_host for an ASCII URL; its value and kind, or 0 when it has no host. */
static int add_url_host(const unsigned char *url, size_t length, PyObject **counts,
                        uint32_t count) {
    const unsigned char *colon = memchr(url, ':', length); /* the scheme's: `://` follows */
    size_t start = (size_t)(colon - url) + 3, end = start;
    while (end < length && url[end] != '/' && url[end] != '?' && url[end] != '#') {
        end++;
    }
    for (size_t at = end; at > start; at--) { /* after the last `@` */
        if (url[at - 1] == '@') {
            start = at;
            break;
        }
    }
    if (start < end && url[start] == '[') {
        const unsigned char *close = memchr(url + start + 1, ']', end - start - 1);
        size_t stop = close != NULL ? (size_t)(close - url) : end;
        return add_count(counts, K_IPV6, ascii_str(url + start + 1, stop - start - 1), count);
    }
    size_t colons = 0, last_colon = end;
    for (size_t at = start; at < end; at++) {
        if (url[at] == ':') {
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
        size_t digits = run(url, end, at, C_DIGIT);
        if (digits < 1 || digits > 3) {
            break;
        }
        at += digits;
        if (part < 3) {
            if (at >= end || url[at] != '.') {
                break;
            }
            at++;
        }
    }
    if (part == 4 && at == end) {
        return add_count(counts, K_IPV4, ascii_str(url + start, end - start), count);
    }
    if (memchr(url + start, '.', end - start) != NULL) {
        return add_count(counts, K_DOMAIN, lower_str(url + start, end - start), count);
    }
    return 0;
}

static int add_urls(const unsigned char *data, Table *urls, PyObject **counts, PyObject *by_url,
                    PyObject *foreign) {
    for (size_t at = 0; at <= urls->mask; at++) {
        Entry *entry = &urls->slots[at];
        if (entry->count == 0) {
            continue;
        }
        const unsigned char *url = data + entry->start;
        size_t length = entry->length;
        PyObject *raw = PyBytes_FromStringAndSize((const char *)url, (Py_ssize_t)length);
        if (raw == NULL) {
            return -1;
        }
        PyObject *number = PyLong_FromUnsignedLong(entry->count);
        int failed = number == NULL || PyDict_SetItem(by_url, raw, number) < 0;
        Py_XDECREF(number);
        int ascii = 1;
        for (size_t i = 0; i < length && ascii; i++) {
            ascii = url[i] < 0x80;
        }
        if (!failed && !ascii) {
            failed = PyList_Append(foreign, raw) < 0;
        }
        Py_DECREF(raw);
        if (failed) {
            return -1;
        }
        if (!ascii) {
            continue;
        }
        PyObject *value = ascii_str(url, length);
        /* `hxxp://` is read as `http://` */
        if (value != NULL && length >= 4 && lower(url[0]) == 'h' && lower(url[1]) == 'x' &&
            lower(url[2]) == 'x' && lower(url[3]) == 'p') {
            memcpy(PyUnicode_1BYTE_DATA(value), "http", 4);
        }
        if (add_count(counts, K_URL, value, entry->count) < 0 ||
            add_url_host(url, length, counts, entry->count) < 0) {
            return -1;
        }
    }
    return 0;
}

static PyObject *results(const unsigned char *data, Found *found) {
    PyObject *counts[K_COUNT] = {NULL};
    PyObject *by_kind = NULL, *by_url = PyDict_New(), *foreign = PyList_New(0), *out = NULL;
    if (by_url == NULL || foreign == NULL || add_tokens(data, &found->tokens, counts) < 0 ||
        add_urls(data, &found->urls, counts, by_url, foreign) < 0 ||
        (by_kind = PyDict_New()) == NULL) {
        goto done;
    }
    for (int kind = 0; kind < K_COUNT; kind++) {
        if (counts[kind] != NULL && PyDict_SetItem(by_kind, kind_names[kind], counts[kind]) < 0) {
            goto done;
        }
    }
    out = Py_BuildValue("nOOO", found->lines, by_kind, by_url, foreign);
done:
    for (int kind = 0; kind < K_COUNT; kind++) {
        Py_XDECREF(counts[kind]);
    }
    Py_XDECREF(by_kind);
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
    const unsigned char *data = view.buf;
    size_t size = (size_t)view.len;
    /* Slices are kept as 32-bit offsets; a block that large goes to Python. */
    if (size >= UINT32_MAX || max_collisions < 0) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    Found found = {{NULL, 0, 0, 0}, {NULL, 0, 0, 0}, 0};
    PyObject *out = NULL;
    int status;
    if (table_init(&found.tokens, size / 64, &spare_tokens) < 0 ||
        table_init(&found.urls, size / 512, &spare_urls) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    /* The passes touch no Python object: other threads run meanwhile. */
    Py_BEGIN_ALLOW_THREADS;
    status = find_tokens(data, size, &found, (size_t)max_collisions);
    if (status == 0) {
        status = find_urls(data, size, &found, (size_t)max_collisions);
    }
    Py_END_ALLOW_THREADS;
    if (status < 0) {
        PyErr_NoMemory();
    } else if (status > 0) {
        out = Py_NewRef(Py_None);
    } else {
        out = results(data, &found);
    }
done:
    table_release(&found.tokens, &spare_tokens);
    table_release(&found.urls, &spare_urls);
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef methods[] = {
    {"read_block", read_block, METH_VARARGS,
     "read_block(data, max_collisions) -> (lines, counts, urls, foreign) | None"},
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
