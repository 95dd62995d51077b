/* The rule writers' per-value loop (shieldwall/formats/export/rules.py) in C.
 *
 * Why C: a Suricata or Snort export spent nearly half of its CPU time in the
 * Python loop that composes rule text and hashes sid keys (measured at 1M
 * indicators: 2.5-2.6 s of 5.5-6.0 s CPU, about 4.5 us per rule-bearing
 * value, nearly all of it interpreter overhead around string pieces of ~100
 * ns). This loop writes the same rules in 0.5-0.7 s.
 *
 * What stays in Python: the rule text itself. The formats hand this module
 * templates (per observable kind, per rule: the sid key's variant and the
 * rule as literal pieces and field codes, built in suricata.py and snort.py
 * from the same constants as their Python writers), and a `slow` callable
 * that runs the Python writer for one row. This module handles the common
 * shape of a row (ASCII text, a version key of digits, a URL that the
 * `rules._PLAIN_URL` expression takes) and passes every other row to `slow`,
 * in order, so edge cases keep exactly one implementation; tests compare the
 * bytes of both paths.
 *
 * Sids: BLAKE2b (RFC 7693) with an 8-byte digest of the key, read big-endian,
 * modulo the range (a power of two); taken sids are bits of the allocator's
 * bitmap (`rules.SidAllocator`), shared with the Python path, so a row passed
 * to `slow` takes its sids from the same bitmap in the same order.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------ BLAKE2b */

static const uint64_t BLAKE2B_IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
    0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
    0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

/* The message word schedule of each of the twelve rounds (rounds 10 and 11
 * repeat rounds 0 and 1). */
static const uint8_t BLAKE2B_SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static inline uint64_t rotate_right(uint64_t word, unsigned bits) {
    return (word >> bits) | (word << (64 - bits));
}

static inline uint64_t load_le64(const unsigned char *bytes) {
    uint64_t word = 0;
    for (int i = 7; i >= 0; i--) {
        word = (word << 8) | bytes[i];
    }
    return word;
}

#define BLAKE2B_MIX(a, b, c, d, x, y)          \
    do {                                       \
        v[a] = v[a] + v[b] + (x);              \
        v[d] = rotate_right(v[d] ^ v[a], 32);  \
        v[c] = v[c] + v[d];                    \
        v[b] = rotate_right(v[b] ^ v[c], 24);  \
        v[a] = v[a] + v[b] + (y);              \
        v[d] = rotate_right(v[d] ^ v[a], 16);  \
        v[c] = v[c] + v[d];                    \
        v[b] = rotate_right(v[b] ^ v[c], 63);  \
    } while (0)

/* One compression of a 128-byte block; `counter` is the byte count so far
 * (this block included), `last` whether it is the final block. */
static void blake2b_compress(uint64_t state[8], const unsigned char block[128],
                             uint64_t counter, int last) {
    uint64_t v[16], m[16];
    for (int i = 0; i < 16; i++) {
        m[i] = load_le64(block + 8 * i);
    }
    for (int i = 0; i < 8; i++) {
        v[i] = state[i];
        v[i + 8] = BLAKE2B_IV[i];
    }
    v[12] ^= counter; /* the counter's high word is 0: keys are far below 2**64 bytes */
    if (last) {
        v[14] = ~v[14];
    }
    for (int round = 0; round < 12; round++) {
        const uint8_t *s = BLAKE2B_SIGMA[round];
        BLAKE2B_MIX(0, 4, 8, 12, m[s[0]], m[s[1]]);
        BLAKE2B_MIX(1, 5, 9, 13, m[s[2]], m[s[3]]);
        BLAKE2B_MIX(2, 6, 10, 14, m[s[4]], m[s[5]]);
        BLAKE2B_MIX(3, 7, 11, 15, m[s[6]], m[s[7]]);
        BLAKE2B_MIX(0, 5, 10, 15, m[s[8]], m[s[9]]);
        BLAKE2B_MIX(1, 6, 11, 12, m[s[10]], m[s[11]]);
        BLAKE2B_MIX(2, 7, 8, 13, m[s[12]], m[s[13]]);
        BLAKE2B_MIX(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) {
        state[i] ^= v[i] ^ v[i + 8];
    }
}

/* The 8-byte BLAKE2b digest of `data` (no key), read as a big-endian integer
 * (as `struct.unpack(">Q", hashlib.blake2b(data, digest_size=8).digest())`). */
static uint64_t blake2b_8(const unsigned char *data, size_t length) {
    uint64_t state[8];
    memcpy(state, BLAKE2B_IV, sizeof state);
    state[0] ^= 0x01010000ULL ^ 8; /* fan-out and depth 1, no key, 8-byte digest */
    uint64_t counter = 0;
    while (length > 128) {
        counter += 128;
        blake2b_compress(state, data, counter, 0);
        data += 128;
        length -= 128;
    }
    unsigned char block[128] = {0};
    memcpy(block, data, length);
    blake2b_compress(state, block, counter + length, 1);
    /* The digest is state[0]'s bytes, little-endian: read big-endian, swapped. */
    return __builtin_bswap64(state[0]);
}

static PyObject *digest_slot(PyObject *module, PyObject *arg) {
    Py_buffer key;
    if (PyObject_GetBuffer(arg, &key, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    uint64_t found = blake2b_8(key.buf, (size_t)key.len);
    PyBuffer_Release(&key);
    return PyLong_FromUnsignedLongLong(found);
}

/* ------------------------------------------------------------------ output */

/* Text being written, in memory of its own. (Writing into the result's bytes
 * object instead, to save the copy at the end, was measured slower: 40% more
 * time, in page faults of the large allocation made for each chunk.) */
typedef struct {
    char *data;
    size_t length, capacity;
} Buffer;

static int reserve(Buffer *out, size_t more) {
    if (out->length + more <= out->capacity) {
        return 0;
    }
    size_t capacity = out->capacity ? out->capacity : 1 << 16;
    while (capacity < out->length + more) {
        capacity *= 2;
    }
    char *grown = PyMem_Realloc(out->data, capacity);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    out->data = grown;
    out->capacity = capacity;
    return 0;
}

static int put(Buffer *out, const char *text, size_t length) {
    if (length == 0) {
        return 0; /* out->data may still be NULL: memcpy must not see it */
    }
    if (reserve(out, length) < 0) {
        return -1;
    }
    memcpy(out->data + out->length, text, length);
    out->length += length;
    return 0;
}

/* A decimal integer (snprintf's formatting was a tenth of this module's time). */
static int put_int(Buffer *out, long long number) {
    char digits[24];
    char *end = digits + sizeof digits, *at = end;
    unsigned long long magnitude = number < 0 ? 0ULL - (unsigned long long)number
                                              : (unsigned long long)number;
    do {
        *--at = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (number < 0) {
        *--at = '-';
    }
    return put(out, at, (size_t)(end - at));
}

static const char HEX[] = "0123456789ABCDEF";

static inline int is_printable(unsigned char c) { return c >= ' ' && c <= '~'; }

/* Per byte: 1 when `content` keeps it, 2 when `message_text` does. */
static unsigned char KEPT[256];

static void init_kept(void) {
    for (int c = ' '; c <= '~'; c++) {
        KEPT[c] = 1 | 2;
    }
    KEPT['"'] = KEPT[';'] = KEPT['\\'] = 0;
    KEPT['|'] = KEPT[':'] = 2;
}

/* How many leading bytes of `text` `content` (`which` 1) or `message_text` (2)
 * keeps as they are: all of them for most values, which one copy then writes. */
static size_t kept_run(const char *text, size_t length, unsigned char which) {
    size_t i = 0;
    while (i < length && (KEPT[(unsigned char)text[i]] & which)) {
        i++;
    }
    return i;
}

/* `rules.content` of ASCII text: printable characters as is, the others and
 * `"`, `;`, `\`, `|`, `:` as `|XX|`. */
static int put_content(Buffer *out, const char *text, size_t length) {
    if (kept_run(text, length, 1) == length) {
        return put(out, text, length);
    }
    if (reserve(out, length * 4) < 0) {
        return -1;
    }
    char *at = out->data + out->length;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (KEPT[c] & 1) {
            *at++ = (char)c;
        } else {
            *at++ = '|';
            *at++ = HEX[c >> 4];
            *at++ = HEX[c & 15];
            *at++ = '|';
        }
    }
    out->length = (size_t)(at - out->data);
    return 0;
}

/* `rules.message_text` of ASCII text: `?` for what is not printable, `\` before
 * `\`, `"` and `;`. */
static int put_message(Buffer *out, const char *text, size_t length) {
    if (kept_run(text, length, 2) == length) {
        return put(out, text, length);
    }
    if (reserve(out, length * 2) < 0) {
        return -1;
    }
    char *at = out->data + out->length;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (!is_printable(c)) {
            *at++ = '?';
            continue;
        }
        if (c == '\\' || c == '"' || c == ';') {
            *at++ = '\\';
        }
        *at++ = (char)c;
    }
    out->length = (size_t)(at - out->data);
    return 0;
}

/* What a rule's msg shows of a value (`rules.RuleContext.parts`). */
#define MSG_VALUE_MAX 120

static int put_shown(Buffer *out, const char *value, size_t length) {
    if (length <= MSG_VALUE_MAX) {
        return put_message(out, value, length);
    }
    if (put_message(out, value, MSG_VALUE_MAX) < 0) {
        return -1;
    }
    return put(out, "...", 3);
}

/* `snort.dns_wire` of an ASCII name: each label as `|LL|` and its content, then `|00|`. */
static int put_dns_wire(Buffer *out, const char *name, size_t length) {
    size_t start = 0;
    for (;;) {
        size_t end = start;
        while (end < length && name[end] != '.') {
            end++;
        }
        /* `|%02X|` of the label's length: two hex digits, more for a longer label. */
        char label_length[24];
        char *at = label_length + sizeof label_length;
        size_t length_left = end - start;
        *--at = '|';
        int digit_count = 0;
        do {
            *--at = HEX[length_left & 15];
            length_left >>= 4;
            digit_count++;
        } while (length_left || digit_count < 2);
        *--at = '|';
        if (put(out, at, (size_t)(label_length + sizeof label_length - at)) < 0 ||
            put_content(out, name + start, end - start) < 0) {
            return -1;
        }
        if (end == length) {
            break;
        }
        start = end + 1;
    }
    return put(out, "|00|", 4);
}

/* ------------------------------------------------------------------ reading a row */

/* What `rules.url_parts` gives for a URL `rules._PLAIN_URL` takes: the host,
 * and the path (empty: `/`) and query (empty: none) of the target. */
typedef struct {
    const char *host, *path, *query;
    size_t host_length, path_length, query_length;
} UrlParts;

static int is_scheme_char(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '.' || c == '-';
}

static int is_host_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* 1 when the whole URL matches `[A-Za-z][A-Za-z0-9+.-]*://([a-z0-9._-]+)([/?][!-"$-~]*)?`
 * (then `parts` is filled), 0 when it does not. */
static int plain_url(const char *url, size_t length, UrlParts *parts) {
    size_t at = 0;
    if (length == 0 || !((url[0] >= 'A' && url[0] <= 'Z') || (url[0] >= 'a' && url[0] <= 'z'))) {
        return 0;
    }
    while (at < length && is_scheme_char((unsigned char)url[at])) {
        at++;
    }
    if (length - at < 3 || memcmp(url + at, "://", 3) != 0) {
        return 0;
    }
    at += 3;
    size_t host = at;
    while (at < length && is_host_char((unsigned char)url[at])) {
        at++;
    }
    if (at == host) {
        return 0;
    }
    parts->host = url + host;
    parts->host_length = at - host;
    size_t rest = at;
    if (at < length) {
        if (url[at] != '/' && url[at] != '?') {
            return 0;
        }
        for (size_t i = at + 1; i < length; i++) {
            unsigned char c = (unsigned char)url[i];
            if (c < '!' || c > '~' || c == '#') {
                return 0;
            }
        }
    }
    /* The target: up to the first `?` is the path, after it the query. */
    const char *question = memchr(url + rest, '?', length - rest);
    size_t path_end = question ? (size_t)(question - url) : length;
    parts->path = url + rest;
    parts->path_length = path_end - rest;
    parts->query = question ? question + 1 : url + length;
    parts->query_length = question ? length - path_end - 1 : 0;
    return 1;
}

/* `content` of the target: the path (`/` when empty), then `?` and the query if any. */
static int put_target_content(Buffer *out, const UrlParts *url) {
    int failed = url->path_length ? put_content(out, url->path, url->path_length)
                                  : put(out, "/", 1);
    if (failed || (url->query_length && (put(out, "?", 1) < 0 ||
                                         put_content(out, url->query, url->query_length) < 0))) {
        return -1;
    }
    return 0;
}

static size_t target_length(const UrlParts *url) {
    size_t path = url->path_length ? url->path_length : 1;
    return path + (url->query_length ? url->query_length + 1 : 0);
}

/* Days from 1970-01-01 to the first of a month, as `calendar.timegm` counts
 * them (proleptic Gregorian, `date(year, month, 1).toordinal()`). */
static long long days_to_month(long year, long month) {
    static const int before[13] = {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    long y = year - 1;
    long long days = 365LL * y + y / 4 - y / 100 + y / 400 + before[month];
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (leap && month > 2) {
        days++;
    }
    return days + 1 - 719163; /* toordinal() of 1970-01-01 */
}

static int digits(const char *text, int count, long *number) {
    long found = 0;
    for (int i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return 0;
        }
        found = found * 10 + (text[i] - '0');
    }
    *number = found;
    return 1;
}

/* The revision (`rev`) of a version key `YYYY-MM-DDTHH:MM:SS...`, as
 * `RuleContext.parts` reads it: 1 when its fields are digits and the date is
 * one `timegm` takes (year 1 on, month 1-12), 0 when the Python path must read it. */
static int revision_of(const char *key, size_t length, long long *revision) {
    long year, month, day, hour, minute, second;
    if (length < 19 || !digits(key, 4, &year) || !digits(key + 5, 2, &month) ||
        !digits(key + 8, 2, &day) || !digits(key + 11, 2, &hour) ||
        !digits(key + 14, 2, &minute) || !digits(key + 17, 2, &second)) {
        return 0;
    }
    if (year < 1 || month < 1 || month > 12) {
        return 0;
    }
    long long seconds = (days_to_month(year, month) + day - 1) * 86400LL + hour * 3600LL +
                        minute * 60LL + second;
    *revision = seconds < 1 ? 1 : seconds;
    return 1;
}

/* The text of an exact str when it is ASCII, else NULL. */
static const char *ascii_text(PyObject *object, Py_ssize_t *length) {
    if (!PyUnicode_CheckExact(object) || !PyUnicode_IS_ASCII(object)) {
        return NULL;
    }
    *length = PyUnicode_GET_LENGTH(object);
    return (const char *)PyUnicode_1BYTE_DATA(object);
}

/* ------------------------------------------------------------------ templates */

/* Field codes of template pieces: keep in step with `rules.Field`. */
enum {
    F_PREFIX, F_SHOWN, F_VALUE, F_CONTENT, F_SIZE, F_DNS_WIRE, F_HOST_CONTENT, F_HOST_SIZE,
    F_TARGET_CONTENT, F_TARGET_SIZE, F_SID, F_REVISION, F_STIX_ID, F_SLUG, F_DAY, F_COUNT
};

typedef struct {
    int field; /* -1: literal text */
    const char *text;
    Py_ssize_t length;
} Piece;

typedef struct {
    const char *variant;
    Py_ssize_t variant_length;
    Piece *pieces;
    Py_ssize_t count;
} Rule;

typedef struct {
    PyObject *kind;
    Rule *rules;
    Py_ssize_t count;
    int is_url;
} KindRules;

typedef struct {
    KindRules *kinds;
    Py_ssize_t count;
} Templates;

static void free_templates(Templates *templates) {
    for (Py_ssize_t k = 0; k < templates->count; k++) {
        KindRules *kind = &templates->kinds[k];
        for (Py_ssize_t r = 0; kind->rules != NULL && r < kind->count; r++) {
            PyMem_Free(kind->rules[r].pieces);
        }
        PyMem_Free(kind->rules);
    }
    PyMem_Free(templates->kinds);
}

static int read_rule(PyObject *spec, Rule *rule) {
    PyObject *pieces;
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) != 2 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(spec, 0)) ||
        !PyTuple_Check(pieces = PyTuple_GET_ITEM(spec, 1))) {
        PyErr_SetString(PyExc_TypeError, "a rule template is (variant: str, pieces: tuple)");
        return -1;
    }
    rule->variant = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(spec, 0), &rule->variant_length);
    if (rule->variant == NULL) {
        return -1;
    }
    rule->count = PyTuple_GET_SIZE(pieces);
    rule->pieces = PyMem_Calloc((size_t)rule->count + 1, sizeof(Piece));
    if (rule->pieces == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < rule->count; i++) {
        PyObject *item = PyTuple_GET_ITEM(pieces, i);
        Piece *piece = &rule->pieces[i];
        if (PyUnicode_Check(item)) {
            piece->field = -1;
            if ((piece->text = PyUnicode_AsUTF8AndSize(item, &piece->length)) == NULL) {
                return -1;
            }
            continue;
        }
        long field = PyLong_Check(item) ? PyLong_AsLong(item) : -1;
        if (field < 0 || field >= F_COUNT) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "a template piece is text or a field code");
            }
            return -1;
        }
        piece->field = (int)field;
    }
    return 0;
}

/* Reads `{kind: ((variant, pieces), ...)}`; the strings stay the dict's (`write_rows`
 * gives it a copy of its own). */
static int read_templates(PyObject *spec, Templates *templates) {
    templates->count = 0;
    templates->kinds = NULL;
    if (!PyDict_Check(spec)) {
        PyErr_SetString(PyExc_TypeError, "templates must be a dict");
        return -1;
    }
    templates->kinds = PyMem_Calloc((size_t)PyDict_GET_SIZE(spec) + 1, sizeof(KindRules));
    if (templates->kinds == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *kind, *rules;
    Py_ssize_t position = 0;
    while (PyDict_Next(spec, &position, &kind, &rules)) {
        KindRules *entry = &templates->kinds[templates->count++];
        entry->kind = kind;
        if (!PyUnicode_CheckExact(kind) || !PyTuple_Check(rules)) {
            PyErr_SetString(PyExc_TypeError, "templates map a kind (str) to a tuple of rules");
            return -1;
        }
        entry->is_url = PyUnicode_CompareWithASCIIString(kind, "url") == 0;
        entry->count = PyTuple_GET_SIZE(rules);
        entry->rules = PyMem_Calloc((size_t)entry->count + 1, sizeof(Rule));
        if (entry->rules == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t r = 0; r < entry->count; r++) {
            if (read_rule(PyTuple_GET_ITEM(rules, r), &entry->rules[r]) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* The templates of `kind` (an exact str), or NULL for a kind without rules. */
static KindRules *rules_of(Templates *templates, PyObject *kind) {
    for (Py_ssize_t k = 0; k < templates->count; k++) {
        PyObject *known = templates->kinds[k].kind;
        if (known == kind) {
            return &templates->kinds[k];
        }
        if (PyUnicode_GET_LENGTH(kind) == PyUnicode_GET_LENGTH(known) &&
            PyUnicode_Compare(kind, known) == 0) {
            return &templates->kinds[k];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ sids */

/* Rules per kind that a template may have (a domain has three). */
#define MAX_RULES 8

typedef struct {
    unsigned char *taken; /* one bit per slot */
    uint64_t mask;        /* slots - 1 (a power of two) */
    long long first;      /* the sid of slot 0 */
    Buffer key;           /* the key being hashed */
} Sids;

/* The slot of `stix_id|kind|value` + variant, before collisions are resolved. */
static int key_slot(Sids *sids, const char *const parts[3], const Py_ssize_t lengths[3],
                    const char *variant, Py_ssize_t variant_length, uint64_t *slot) {
    Buffer *key = &sids->key;
    key->length = 0;
    for (int i = 0; i < 3; i++) {
        if (put(key, parts[i], (size_t)lengths[i]) < 0 || (i < 2 && put(key, "|", 1) < 0)) {
            return -1;
        }
    }
    if (put(key, variant, (size_t)variant_length) < 0) {
        return -1;
    }
    *slot = blake2b_8((const unsigned char *)key->data, key->length) & sids->mask;
    return 0;
}

/* `SidAllocator.sid` from the key's slot: it, or the first free one above it
 * (wrapping), now taken. */
static long long take_sid(Sids *sids, uint64_t slot) {
    for (;;) {
        unsigned char bit = (unsigned char)(1u << (slot & 7));
        unsigned char *byte = &sids->taken[slot >> 3];
        if (!(*byte & bit)) {
            *byte |= bit;
            return sids->first + (long long)slot;
        }
        slot = (slot + 1) & sids->mask;
    }
}

/* ------------------------------------------------------------------ the loop */

typedef struct {
    const char *kind, *value, *stix_id, *version_key;
    Py_ssize_t kind_length, value_length, stix_id_length, version_key_length;
    long long revision;
    UrlParts url;
} Row;

/* The (tlp, owner) of the previous row and what `source` gave for it: rows of
 * one export mostly share them. */
typedef struct {
    PyObject *source;
    long tlp;
    PyObject *owner; /* NULL: none yet */
    PyObject *found; /* (prefix, slug) */
    const char *prefix, *slug;
    Py_ssize_t prefix_length, slug_length;
} Sources;

static int read_source(Sources *sources, long tlp, PyObject *owner) {
    if (sources->owner != NULL && sources->tlp == tlp) {
        int same = PyObject_RichCompareBool(owner, sources->owner, Py_EQ);
        if (same < 0) {
            return -1;
        }
        if (same) {
            return 0;
        }
    }
    PyObject *found = PyObject_CallFunction(sources->source, "lO", tlp, owner);
    if (found == NULL) {
        return -1;
    }
    if (!PyTuple_Check(found) || PyTuple_GET_SIZE(found) != 2) {
        Py_DECREF(found);
        PyErr_SetString(PyExc_TypeError, "source() must return (prefix, slug)");
        return -1;
    }
    Py_ssize_t prefix_length, slug_length;
    const char *prefix = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(found, 0), &prefix_length);
    const char *slug =
        prefix == NULL ? NULL : PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(found, 1), &slug_length);
    if (slug == NULL) {
        Py_DECREF(found);
        return -1;
    }
    Py_XDECREF(sources->found);
    Py_XDECREF(sources->owner);
    Py_INCREF(owner);
    sources->found = found;
    sources->owner = owner;
    sources->tlp = tlp;
    sources->prefix = prefix;
    sources->prefix_length = prefix_length;
    sources->slug = slug;
    sources->slug_length = slug_length;
    return 0;
}

static int put_field(Buffer *out, int field, const Row *row, const Sources *sources,
                     long long sid) {
    size_t value_length = (size_t)row->value_length;
    switch (field) {
    case F_PREFIX:
        return put(out, sources->prefix, (size_t)sources->prefix_length);
    case F_SHOWN:
        return put_shown(out, row->value, value_length);
    case F_VALUE:
        return put(out, row->value, value_length);
    case F_CONTENT:
        return put_content(out, row->value, value_length);
    case F_SIZE:
        return put_int(out, (long long)value_length);
    case F_DNS_WIRE:
        return put_dns_wire(out, row->value, value_length);
    case F_HOST_CONTENT:
        return put_content(out, row->url.host, row->url.host_length);
    case F_HOST_SIZE:
        return put_int(out, (long long)row->url.host_length);
    case F_TARGET_CONTENT:
        return put_target_content(out, &row->url);
    case F_TARGET_SIZE:
        return put_int(out, (long long)target_length(&row->url));
    case F_SID:
        return put_int(out, sid);
    case F_REVISION:
        return put_int(out, row->revision);
    case F_STIX_ID:
        return put(out, row->stix_id, (size_t)row->stix_id_length);
    case F_SLUG:
        return put(out, sources->slug, (size_t)sources->slug_length);
    case F_DAY: {
        if (reserve(out, 10) < 0) {
            return -1;
        }
        for (int i = 0; i < 10; i++) {
            char c = row->version_key[i];
            out->data[out->length++] = c == '-' ? '_' : c;
        }
        return 0;
    }
    default:
        PyErr_SetString(PyExc_ValueError, "unknown template field");
        return -1;
    }
}

/* A row read ahead of writing (see `write_rows`). */
typedef struct {
    PyObject *item;
    KindRules *kind; /* NULL: a kind without rules, or not a str (`fast` says which) */
    int fast;        /* 1: written here; 0: by `slow`, or counted in `others` */
    Row row;
    PyObject *owner;
    long tlp;
    uint64_t slots[MAX_RULES];
} Pending;

/* Reads a row of (kind, value, stix_id, owner_org_id, tlp, version_key) that this
 * module writes itself: 1 (with `*owner`, `*tlp` set), 0 when it is for `slow`. */
static int read_row(PyObject *item, const KindRules *kind, Row *row, PyObject **owner, long *tlp) {
    PyObject *tlp_object = PyTuple_GET_ITEM(item, 4);
    *owner = PyTuple_GET_ITEM(item, 3); /* an id or a name: only `source` reads it */
    if (!PyLong_CheckExact(tlp_object) ||
        (row->kind = ascii_text(PyTuple_GET_ITEM(item, 0), &row->kind_length)) == NULL ||
        (row->value = ascii_text(PyTuple_GET_ITEM(item, 1), &row->value_length)) == NULL ||
        (row->stix_id = ascii_text(PyTuple_GET_ITEM(item, 2), &row->stix_id_length)) == NULL ||
        (row->version_key = ascii_text(PyTuple_GET_ITEM(item, 5), &row->version_key_length)) ==
            NULL) {
        return 0;
    }
    int overflow;
    *tlp = PyLong_AsLongAndOverflow(tlp_object, &overflow);
    if (overflow) {
        return 0;
    }
    if (!revision_of(row->version_key, (size_t)row->version_key_length, &row->revision)) {
        return 0;
    }
    if (kind->is_url && !plain_url(row->value, (size_t)row->value_length, &row->url)) {
        return 0;
    }
    return 1;
}

/* Reads a row and, when it is written here, the slots of its rules' sids,
 * asking the processor to fetch their bits of the bitmap meanwhile. */
static int read_ahead(PyObject *item, Templates *templates, Sids *sids, Pending *pending) {
    memset(pending, 0, sizeof *pending);
    pending->item = item;
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 6 ||
        !PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 0))) {
        return 0;
    }
    pending->kind = rules_of(templates, PyTuple_GET_ITEM(item, 0));
    if (pending->kind == NULL ||
        !read_row(item, pending->kind, &pending->row, &pending->owner, &pending->tlp)) {
        return 0;
    }
    const Row *row = &pending->row;
    const char *const parts[3] = {row->stix_id, row->kind, row->value};
    const Py_ssize_t lengths[3] = {row->stix_id_length, row->kind_length, row->value_length};
    for (Py_ssize_t r = 0; r < pending->kind->count; r++) {
        const Rule *rule = &pending->kind->rules[r];
        if (key_slot(sids, parts, lengths, rule->variant, rule->variant_length,
                     &pending->slots[r]) < 0) {
            return -1;
        }
        __builtin_prefetch(&sids->taken[pending->slots[r] >> 3], 1);
    }
    pending->fast = 1;
    return 0;
}

/* The rules of a row read ahead, from its kind's templates; each line ends with `\n`. */
static int put_rules(Buffer *out, const Pending *pending, const Sources *sources, Sids *sids) {
    const KindRules *kind = pending->kind;
    for (Py_ssize_t r = 0; r < kind->count; r++) {
        const Rule *rule = &kind->rules[r];
        long long sid = take_sid(sids, pending->slots[r]);
        for (Py_ssize_t i = 0; i < rule->count; i++) {
            const Piece *piece = &rule->pieces[i];
            int failed = piece->field < 0
                             ? put(out, piece->text, (size_t)piece->length)
                             : put_field(out, piece->field, &pending->row, sources, sid);
            if (failed) {
                return -1;
            }
        }
        if (put(out, "\n", 1) < 0) {
            return -1;
        }
    }
    return 0;
}

static int call_slow(PyObject *slow, PyObject *item, Buffer *out) {
    PyObject *text = PyObject_CallOneArg(slow, item);
    if (text == NULL) {
        return -1;
    }
    if (!PyBytes_Check(text)) {
        Py_DECREF(text);
        PyErr_SetString(PyExc_TypeError, "slow() must return bytes");
        return -1;
    }
    int failed = put(out, PyBytes_AS_STRING(text), (size_t)PyBytes_GET_SIZE(text));
    Py_DECREF(text);
    return failed;
}

static int count_other(PyObject *others, PyObject *kind) {
    PyObject *count = PyDict_GetItemWithError(others, kind);
    if (count == NULL && PyErr_Occurred()) {
        return -1;
    }
    long long before = count == NULL ? 0 : PyLong_AsLongLong(count);
    if (before == -1 && PyErr_Occurred()) {
        return -1;
    }
    PyObject *next = PyLong_FromLongLong(before + 1);
    if (next == NULL) {
        return -1;
    }
    int failed = PyDict_SetItem(others, kind, next);
    Py_DECREF(next);
    return failed;
}

static int write_pending(const Pending *pending, Sources *sources, Sids *sids, PyObject *slow,
                         PyObject *others, Buffer *out) {
    if (pending->fast) {
        if (read_source(sources, pending->tlp, pending->owner) < 0) {
            return -1;
        }
        return put_rules(out, pending, sources, sids);
    }
    PyObject *item = pending->item;
    if (pending->kind == NULL && PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) == 6 &&
        PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 0))) {
        return count_other(others, PyTuple_GET_ITEM(item, 0)); /* a kind without rules */
    }
    return call_slow(slow, item, out);
}

/* Rows read ahead at a time: the sid bitmap is 32 MiB, so nearly every sid
 * taken is a cache miss; fetching the bits of a window's sids together,
 * while its keys are hashed, overlaps the misses instead of waiting for each
 * (measured at 1M indicators: the wait was two thirds of this loop's own
 * time, and the window took the rules of an export from 0.8 s to 0.5 s; 16
 * rows did better than 32, 64 or 256). */
#define WINDOW 16

static PyObject *write_rows(PyObject *module, PyObject *args) {
    PyObject *rows, *spec, *bitmap, *source, *slow, *others;
    long long first;
    if (!PyArg_ParseTuple(args, "OOOLOOO!:write_rows", &rows, &spec, &bitmap, &first, &source,
                          &slow, &PyDict_Type, &others)) {
        return NULL;
    }
    /* A tuple of its own, not the caller's list: the rows read ahead lend the
     * window their text, and `slow` or `source` could change that list (clear
     * it, replace a row) before the window is written. The tuple keeps every
     * row, and so its text, alive until the end. */
    PyObject *sequence = PySequence_Tuple(rows);
    if (sequence == NULL) {
        return NULL;
    }
    Templates templates = {0};
    Py_buffer taken = {0};
    Sids sids = {0};
    Sources sources = {.source = source};
    Buffer out = {0};
    Pending *window = NULL;
    PyObject *spec_copy = NULL;
    PyObject *result = NULL;
    /* Likewise a copy of the templates: they lend the loop their text, and the
     * callbacks could replace an entry of the caller's dict. */
    spec_copy = PyDict_Check(spec) ? PyDict_Copy(spec) : Py_NewRef(spec);
    if (spec_copy == NULL) {
        goto done;
    }
    if (read_templates(spec_copy, &templates) < 0) {
        goto done;
    }
    for (Py_ssize_t k = 0; k < templates.count; k++) {
        if (templates.kinds[k].count > MAX_RULES) {
            PyErr_Format(PyExc_ValueError, "at most %d rules per kind", MAX_RULES);
            goto done;
        }
    }
    if (PyObject_GetBuffer(bitmap, &taken, PyBUF_WRITABLE) < 0) {
        goto done;
    }
    uint64_t slots = (uint64_t)taken.len * 8;
    if (slots == 0 || (slots & (slots - 1)) != 0) {
        PyErr_SetString(PyExc_ValueError, "the sid bitmap must hold a power of two of bits");
        goto done;
    }
    sids.taken = taken.buf;
    sids.mask = slots - 1;
    sids.first = first;
    window = PyMem_Malloc(WINDOW * sizeof(Pending));
    if (window == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(sequence);
    PyObject **items = &PyTuple_GET_ITEM(sequence, 0);

    for (Py_ssize_t start = 0; start < count; start += WINDOW) {
        Py_ssize_t size = count - start < WINDOW ? count - start : WINDOW;
        for (Py_ssize_t i = 0; i < size; i++) {
            if (read_ahead(items[start + i], &templates, &sids, &window[i]) < 0) {
                goto done;
            }
        }
        for (Py_ssize_t i = 0; i < size; i++) {
            if (write_pending(&window[i], &sources, &sids, slow, others, &out) < 0) {
                goto done;
            }
        }
    }
    result = PyBytes_FromStringAndSize(out.data, (Py_ssize_t)out.length);
done:
    if (taken.obj != NULL) {
        PyBuffer_Release(&taken);
    }
    free_templates(&templates);
    Py_XDECREF(spec_copy);
    Py_XDECREF(sources.found);
    Py_XDECREF(sources.owner);
    PyMem_Free(window);
    PyMem_Free(sids.key.data);
    PyMem_Free(out.data);
    Py_DECREF(sequence);
    return result;
}

static PyMethodDef methods[] = {
    {"write_rows", write_rows, METH_VARARGS,
     "write_rows(rows, templates, bitmap, first_sid, source, slow, others) -> bytes"},
    {"digest_slot", digest_slot, METH_O,
     "digest_slot(key) -> the 8-byte BLAKE2b digest of key, as a big-endian integer"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rules", "The rule writers' per-value loop, in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__rules(void) {
    init_kept();
    return PyModule_Create(&module);
}
