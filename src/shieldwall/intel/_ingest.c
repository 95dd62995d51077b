/* The hot loops of STIX ingest (shieldwall/intel/ingest.py) in C.
 *
 * Why C: per 100,000 generated indicators, ijson's event stream cost 0.43 s
 * CPU, `check_object` 0.33 s and the simple-pattern observable extraction
 * 0.38 s, against a 2 s budget for the whole import (issue 2: 50,000
 * indicators per CPU-second). Two pieces here:
 *
 * `cut(data, pos, first, target)` finds where the elements of a JSON array
 * begin and end, so that ingest hands orjson a slice of whole objects at a
 * time. It judges only the array's own commas and brackets; the slice itself
 * is validated by orjson, and anything it cannot vouch for (a bracket out of
 * place, a number orjson and ijson might read differently) sends the caller
 * back to ijson, the reference parser, so that values and error messages stay
 * ijson's.
 *
 * `prepare_indicator(obj)` is `check_object` + `pattern_observables` +
 * `_search_text` of ingest.py for the commonest object of all: an indicator
 * with ASCII millisecond timestamps and one bracketed observation of
 * `path = 'literal'` comparisons joined by ` AND ` or ` OR `. It returns
 * None for anything else, and for any value whose answer it is not sure of
 * (a rejection, an IP address `ipaddress` must judge, a URL for `urlsplit`),
 * so that the Python path, the reference, decides those.
 * tests/intel/test_compiled_ingest.py holds the two to the same answers.
 *
 * `prepare_object(obj)` does the same for the other objects a MISP import is
 * made of (issue 4: 2,600 of its 3,800 objects per ESET copy went to the
 * Python path, 25 of 145 ms CPU): SDOs whose checks are check_object's
 * generic ones, relationships, and SCOs with their `observables.from_sco`.
 * tests/intel/test_compiled_objects.py holds it to the reference.
 *
 * `array_start(data)` finds the byte after the `[` of a bundle's `objects`
 * (or of a bare array), -1 when the envelope is not simple enough to say.
 *
 * `key_of(kind, value)` is correlate.keys.key_of (0.15 s of the 100,000's
 * ingest in Python), for ASCII values; the Python one answers the rest.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <arpa/inet.h>
#include <string.h>

/* --------------------------------------------------------------- scanning */

enum { ST_CHUNK = 0, ST_MORE = 1, ST_END = 2, ST_ERROR = 3 };

/* Deeper than this, the chunk goes to ijson: orjson stops at 1024 levels and
 * ijson at none, and nothing in STIX nests more than a few. */
#define MAX_DEPTH 64
/* A number this long may be an integer ijson refuses (beyond 64 bits) that
 * orjson reads (up to 2**64 - 1); with an exponent, one that overflows. */
#define MAX_PLAIN_NUMBER 18

static int is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int is_number_char(unsigned char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* Skips a number or literal starting at i; returns its end, or -1 if the data
 * ends inside it. Marks *unusual for numbers ijson and orjson may disagree on. */
static Py_ssize_t skip_scalar(const unsigned char *s, Py_ssize_t i, Py_ssize_t n, int *unusual) {
    Py_ssize_t start = i;
    int number = (s[i] == '-' || (s[i] >= '0' && s[i] <= '9'));
    int exponent = 0;
    while (i < n && !is_ws(s[i]) && s[i] != ',' && s[i] != ']' && s[i] != '}') {
        if (s[i] == 'e' || s[i] == 'E') {
            exponent = 1;
        }
        i++;
    }
    if (i == n) {
        return -1;
    }
    if (number && (exponent || i - start > MAX_PLAIN_NUMBER)) {
        *unusual = 1;
    }
    return i;
}

/* Skips a string whose opening quote is at i; returns the index after its
 * closing quote, or -1 if the data ends first. */
static Py_ssize_t skip_string(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
    i++;
    while (i < n) {
        const unsigned char *quote = memchr(s + i, '"', (size_t)(n - i));
        if (quote == NULL) {
            return -1;
        }
        Py_ssize_t q = quote - s;
        /* Escaped when preceded by an odd number of backslashes. */
        Py_ssize_t back = q - 1;
        while (back >= i && s[back] == '\\') {
            back--;
        }
        if (((q - 1 - back) & 1) == 0) {
            return q + 1;
        }
        i = q + 1;
    }
    return -1;
}

/* Skips one JSON value starting at i (not white space); returns its end, or -1
 * if the data ends inside it. The value's own grammar is orjson's to judge. */
static Py_ssize_t skip_value(const unsigned char *s, Py_ssize_t i, Py_ssize_t n, int *unusual) {
    unsigned char c = s[i];
    if (c == '"') {
        return skip_string(s, i, n);
    }
    if (c != '{' && c != '[') {
        return skip_scalar(s, i, n, unusual);
    }
    int depth = 0;
    while (i < n) {
        c = s[i];
        if (c == '"') {
            i = skip_string(s, i, n);
            if (i < 0) {
                return -1;
            }
            continue;
        }
        if (c == '{' || c == '[') {
            if (++depth > MAX_DEPTH) {
                *unusual = 1;
            }
        } else if (c == '}' || c == ']') {
            if (--depth == 0) {
                return i + 1;
            }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            Py_ssize_t start = i;
            int exponent = 0;
            while (i < n && is_number_char(s[i])) {
                exponent |= (s[i] == 'e' || s[i] == 'E');
                i++;
            }
            if (exponent || i - start > MAX_PLAIN_NUMBER) {
                *unusual = 1;
            }
            continue;
        }
        i++;
    }
    return -1;
}

static Py_ssize_t skip_ws(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
    while (i < n && is_ws(s[i])) {
        i++;
    }
    return i;
}

/* cut(data, pos, first, target) -> (status, start, end, at, unusual)
 *
 * `pos` is inside an array: just after its `[` when `first`, else just after
 * an element. Scans whole elements until they span `target` bytes.
 *   ST_CHUNK: data[start:end] holds whole elements and their commas; go on from end.
 *   ST_MORE:  the data ended inside the array; as CHUNK when start < end, else
 *             call again from `pos` with more data.
 *   ST_END:   as CHUNK, and the array's `]` is at `at`.
 *   ST_ERROR: the array's own punctuation is wrong near `at` (ijson will say how).
 */
static PyObject *cut(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t pos, target;
    int first;
    if (!PyArg_ParseTuple(args, "y*npn", &view, &pos, &first, &target)) {
        return NULL;
    }
    const unsigned char *s = view.buf;
    Py_ssize_t n = view.len;
    Py_ssize_t start = -1, end = pos, i = pos;
    int status = ST_MORE, unusual = 0;
    /* 0: a value or the end (just after `[`); 1: a comma or the end; 2: a value. */
    int expect = first ? 0 : 1;
    if (pos < 0 || pos > n) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "pos out of range");
        return NULL;
    }
    for (;;) {
        i = skip_ws(s, i, n);
        if (i == n) {
            status = ST_MORE;
            break;
        }
        unsigned char c = s[i];
        if (c == ']' && expect != 2) {
            status = ST_END;
            break;
        }
        if (expect == 1) {
            if (c != ',') {
                status = ST_ERROR;
                break;
            }
            expect = 2;
            i++;
            continue;
        }
        if (c == ']' || c == ',' || c == '}' || c == ':') {
            status = ST_ERROR;
            break;
        }
        Py_ssize_t value_end = skip_value(s, i, n, &unusual);
        if (value_end < 0) {
            status = ST_MORE;
            break;
        }
        if (start < 0) {
            start = i;
        }
        end = i = value_end;
        expect = 1;
        if (end - start >= target) {
            status = ST_CHUNK;
            break;
        }
    }
    PyBuffer_Release(&view);
    if (start < 0) {
        start = end;
    }
    return Py_BuildValue("innnO", status, start, end, i, unusual ? Py_True : Py_False);
}

/* array_start(data) -> int: the index after the `[` of the top-level `objects`
 * array of a JSON object (or of a top-level array); -1 when not found in
 * `data` or when a key is escaped (ijson decodes escapes; we do not). */
static PyObject *array_start(PyObject *self, PyObject *args) {
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view)) {
        return NULL;
    }
    const unsigned char *s = view.buf;
    Py_ssize_t n = view.len, i = skip_ws(s, 0, n), found = -1;
    int unusual = 0;
    if (i < n && s[i] == '[') {
        found = i + 1;
    } else if (i < n && s[i] == '{') {
        i++;
        for (;;) {
            i = skip_ws(s, i, n);
            if (i == n || s[i] != '"') {
                break;
            }
            Py_ssize_t key_end = skip_string(s, i, n);
            if (key_end < 0 || memchr(s + i, '\\', (size_t)(key_end - i)) != NULL) {
                break;
            }
            int is_objects = (key_end - i == 9 && memcmp(s + i, "\"objects\"", 9) == 0);
            i = skip_ws(s, key_end, n);
            if (i == n || s[i] != ':') {
                break;
            }
            i = skip_ws(s, i + 1, n);
            if (i == n) {
                break;
            }
            if (is_objects) {
                found = s[i] == '[' ? i + 1 : -1;
                break;
            }
            i = skip_value(s, i, n, &unusual);
            if (i < 0) {
                break;
            }
            i = skip_ws(s, i, n);
            if (i == n || s[i] != ',') {
                break;
            }
            i++;
        }
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(found);
}

/* ------------------------------------------------------------ indicators */

static int kind_index_of(PyObject *name);

static PyObject *s_type, *s_id, *s_spec_version, *s_created, *s_modified, *s_pattern,
    *s_pattern_type, *s_valid_from, *s_valid_until, *s_created_by_ref, *s_object_marking_refs,
    *s_granular_markings, *s_revoked, *s_name, *s_value, *s_indicator, *s_stix, *s_v21, *s_lower;

/* K_NONE: a path that carries no observable (patterns.SILENT_PATHS). */
enum { K_NONE = -1, K_IPV4, K_IPV6, K_DOMAIN, K_URL, K_EMAIL, K_MD5, K_SHA1, K_SHA256, K_SHA512, K_FILENAME,
       K_COUNT };
static const char *const KIND_NAMES[K_COUNT] = {"ipv4", "ipv6", "domain", "url", "email",
                                                "md5",  "sha1", "sha256", "sha512", "filename"};
static PyObject *kind_names[K_COUNT];

/* The pattern paths of one comparison that name a kind (patterns._SPELLING_KINDS
 * without the reference paths, which have no kind of their own): the caller
 * passes them in at start-up, so the table is the Python one. */
static PyObject *spelling_kinds; /* dict: spelling (str) -> kind index (int) */

#define MAX_VALUE_LENGTH 2048

static int is_hex(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
/* ASCII only, whatever the C locale says (Python's classes here are ASCII). */
static int is_alnum(unsigned char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static char to_lower(unsigned char c) { return (char)(c >= 'A' && c <= 'Z' ? c + 32 : c); }

/* An ASCII str's bytes, or NULL if it is not an exact ASCII str. */
static const char *ascii_of(PyObject *value, Py_ssize_t *length) {
    if (!PyUnicode_CheckExact(value) || !PyUnicode_IS_ASCII(value)) {
        return NULL;
    }
    *length = PyUnicode_GET_LENGTH(value);
    return (const char *)PyUnicode_DATA(value);
}

/* stix._MILLISECOND_RE: `YYYY-MM-DDTHH:MM:SS.mmmZ` in ASCII digits. */
static int is_millisecond_stamp(const char *s, Py_ssize_t n) {
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (n != 24) {
        return 0;
    }
    for (int i = 0; i < 24; i++) {
        if (shape[i] == 'd' ? !is_digit((unsigned char)s[i]) : s[i] != shape[i]) {
            return 0;
        }
    }
    return 1;
}

/* stix.timestamp_key of the millisecond shape: 23 characters and "000000Z". */
static void stamp_key(const char *s, char key[30]) {
    memcpy(key, s, 23);
    memcpy(key + 23, "000000Z", 7);
}

/* A UUID as stix._UUID_RE: 8-4-4-4-12 hex digits of either case. */
static int is_uuid(const char *s) {
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }
        } else if (!is_hex((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* `<prefix>--<UUID>` in ASCII: what stix._identifier accepts for that type. */
static int is_identifier(PyObject *value, const char *prefix) {
    Py_ssize_t n, p = (Py_ssize_t)strlen(prefix);
    const char *s = ascii_of(value, &n);
    return s != NULL && n == p + 38 && memcmp(s, prefix, (size_t)p) == 0 && s[p] == '-' &&
           s[p + 1] == '-' && is_uuid(s + p + 2);
}

/* A non-empty exact str (stix._require_str). */
static int is_nonempty_str(PyObject *value) {
    return value != NULL && PyUnicode_CheckExact(value) && PyUnicode_GET_LENGTH(value) > 0;
}

/* The millisecond key of a timestamp value, or 0 if it is not of that shape. */
static int key_of_stamp(PyObject *value, char key[30]) {
    Py_ssize_t n;
    const char *s = value == NULL ? NULL : ascii_of(value, &n);
    if (s == NULL || !is_millisecond_stamp(s, n)) {
        return 0;
    }
    stamp_key(s, key);
    return 1;
}

/* What Python's str.strip() removes from an ASCII string. */
static int is_py_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static PyObject *ascii_lower(const char *s, Py_ssize_t n) {
    PyObject *out = PyUnicode_New(n, 127);
    if (out == NULL) {
        return NULL;
    }
    char *d = (char *)PyUnicode_DATA(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        d[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    return out;
}

/* observables._DOMAIN_RE on a lower-case ASCII name:
 * (?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}
 * Labels cannot hold a dot, so the expression's only parse is: split at the
 * dots, every label but the last one as the group, the last as the TLD. */
static int is_domain(const char *s, Py_ssize_t n) {
    if (n < 1 || n > 253) {
        return 0;
    }
    Py_ssize_t label_start = 0;
    int labels = 0;
    for (Py_ssize_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            continue;
        }
        const char *label = s + label_start;
        Py_ssize_t length = i - label_start;
        if (i == n) { /* the TLD: [a-z0-9-]{2,63} */
            if (length < 2 || length > 63 || labels == 0) {
                return 0;
            }
            for (Py_ssize_t j = 0; j < length; j++) {
                unsigned char c = (unsigned char)label[j];
                if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-')) {
                    return 0;
                }
            }
            return 1;
        }
        if (length < 1 || length > 63) {
            return 0;
        }
        for (Py_ssize_t j = 0; j < length; j++) {
            unsigned char c = (unsigned char)label[j];
            int alnum = (c >= 'a' && c <= 'z') || is_digit(c);
            int ok = j == 0 ? (alnum || c == '_')
                            : (j == length - 1 ? alnum : (alnum || c == '_' || c == '-'));
            if (!ok) {
                return 0;
            }
        }
        labels++;
        label_start = i + 1;
    }
    return 0;
}

/* Character classes of observables._PLAIN_URL_RE. */
static int url_netloc_char(unsigned char c) {
    return c == '!' || (c >= '$' && c <= '.') || is_digit(c) || c == ':' || c == ';' || c == '=' ||
           (c >= '@' && c <= 'Z') || c == '_' || (c >= 'a' && c <= 'z') || c == '~';
}
static int url_query_char(unsigned char c) {
    return url_netloc_char(c) || c == '/' || c == '?';
}

/* observables._url's plain case; NULL with no error when the URL is not plain. */
static PyObject *plain_url(const char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z'))) {
        return NULL;
    }
    while (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '.' || s[i] == '-')) {
        i++;
    }
    Py_ssize_t scheme_end = i;
    if (n - i < 3 || memcmp(s + i, "://", 3) != 0) {
        return NULL;
    }
    i += 3;
    Py_ssize_t netloc_start = i;
    while (i < n && url_netloc_char((unsigned char)s[i])) {
        i++;
    }
    Py_ssize_t netloc_end = i;
    if (netloc_end == netloc_start) {
        return NULL;
    }
    while (i < n && (url_netloc_char((unsigned char)s[i]) || s[i] == '/')) {
        i++;
    }
    Py_ssize_t path_end = i, query_start = -1, query_end = -1;
    if (i < n && s[i] == '?') {
        query_start = ++i;
        while (i < n && url_query_char((unsigned char)s[i])) {
            i++;
        }
        query_end = i;
    }
    if (i < n && s[i] == '#') {
        for (i++; i < n; i++) {
            if (s[i] < '!' || s[i] > '~') {
                return NULL;
            }
        }
    }
    if (i != n) {
        return NULL;
    }
    Py_ssize_t path_length = path_end - netloc_end;
    Py_ssize_t query_length = query_start < 0 ? 0 : query_end - query_start;
    Py_ssize_t total = scheme_end + 3 + (netloc_end - netloc_start) +
                       (path_length ? path_length : 1) + (query_length ? 1 + query_length : 0);
    PyObject *out = PyUnicode_New(total, 127);
    if (out == NULL) {
        return NULL;
    }
    char *d = (char *)PyUnicode_DATA(out);
    Py_ssize_t o = 0;
    for (Py_ssize_t j = 0; j < scheme_end; j++) {
        d[o++] = to_lower((unsigned char)s[j]);
    }
    memcpy(d + o, "://", 3);
    o += 3;
    for (Py_ssize_t j = netloc_start; j < netloc_end; j++) {
        d[o++] = to_lower((unsigned char)s[j]);
    }
    if (path_length) {
        memcpy(d + o, s + netloc_end, (size_t)path_length);
        o += path_length;
    } else {
        d[o++] = '/';
    }
    if (query_length) {
        d[o++] = '?';
        memcpy(d + o, s + query_start, (size_t)query_length);
        o += query_length;
    }
    return out;
}

/* Sentinels of normalise_fast: the value has no observable / Python must judge. */
static PyObject NONE_FOUND_OBJECT, UNSURE_OBJECT;
#define NONE_FOUND (&NONE_FOUND_OBJECT)
#define UNSURE (&UNSURE_OBJECT)

/* observables.normalise(kind, raw) for what it decides without Python:
 * a new str value, NONE_FOUND, UNSURE (borrowed sentinels), or NULL on error. */
static PyObject *normalise_fast(int kind, PyObject *raw) {
    Py_ssize_t length = PyUnicode_GET_LENGTH(raw);
    if (length == 0 || length > MAX_VALUE_LENGTH) {
        return NONE_FOUND;
    }
    if (kind == K_FILENAME) {
        Py_ssize_t nul = PyUnicode_FindChar(raw, 0, 0, length, 1);
        if (nul == -2) {
            return NULL;
        }
        if (nul >= 0) {
            return NONE_FOUND;
        }
        Py_INCREF(raw);
        return raw;
    }
    Py_ssize_t n;
    const char *s = ascii_of(raw, &n);
    if (s == NULL || is_py_space((unsigned char)s[0]) || is_py_space((unsigned char)s[n - 1])) {
        return UNSURE; /* strip() of Unicode white space, IDNA: Python's */
    }
    char text[MAX_VALUE_LENGTH + 1];
    switch (kind) {
    case K_MD5:
    case K_SHA1:
    case K_SHA256:
    case K_SHA512: {
        Py_ssize_t want = kind == K_MD5 ? 32 : kind == K_SHA1 ? 40 : kind == K_SHA256 ? 64 : 128;
        if (n != want) {
            return NONE_FOUND;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            if (!is_hex((unsigned char)s[i])) {
                return NONE_FOUND;
            }
        }
        return ascii_lower(s, n);
    }
    case K_IPV4:
    case K_IPV6: {
        /* A NUL would end the C string early; Python's socket refuses it itself. */
        if (memchr(s, '/', (size_t)n) != NULL || memchr(s, 0, (size_t)n) != NULL) {
            return UNSURE;
        }
        unsigned char packed[16];
        char canonical[INET6_ADDRSTRLEN];
        int family = kind == K_IPV4 ? AF_INET : AF_INET6;
        memcpy(text, s, (size_t)n);
        text[n] = '\0';
        if (inet_pton(family, text, packed) != 1 ||
            inet_ntop(family, packed, canonical, sizeof canonical) == NULL) {
            return UNSURE;
        }
        if (kind == K_IPV4) {
            return strcmp(canonical, text) == 0 ? PyUnicode_FromString(canonical) : UNSURE;
        }
        return strchr(canonical, '.') != NULL ? UNSURE : PyUnicode_FromString(canonical);
    }
    case K_DOMAIN: {
        while (n > 0 && s[n - 1] == '.') {
            n--;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            text[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        return is_domain(text, n) ? PyUnicode_FromStringAndSize(text, n) : NONE_FOUND;
    }
    case K_URL: {
        PyObject *url = plain_url(s, n);
        return url != NULL || PyErr_Occurred() ? url : UNSURE;
    }
    case K_EMAIL: {
        Py_ssize_t at = -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (is_py_space((unsigned char)s[i])) {
                return NONE_FOUND;
            }
            if (s[i] == '@') {
                if (at >= 0) {
                    return NONE_FOUND;
                }
                at = i;
            }
        }
        return at > 0 && at < n - 1 ? ascii_lower(s, n) : NONE_FOUND;
    }
    default:
        return UNSURE;
    }
}

/* One comparison `<path> = '<literal>'` of patterns._SINGLE_RE / _SIMPLE at
 * s[i]: path [a-z0-9-]+:[A-Za-z0-9_.'-]+, one space either side of `=`, the
 * literal's only escapes \' and \\. Sets the path's end and the literal's
 * span; returns the index after the literal's closing quote, or -1 when the
 * text there is not of that shape. */
static Py_ssize_t comparison_at(const char *s, Py_ssize_t n, Py_ssize_t i, Py_ssize_t *path_end,
                                Py_ssize_t *literal_start, Py_ssize_t *literal_end,
                                int *escaped) {
    Py_ssize_t start = i;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || is_digit((unsigned char)s[i]) || s[i] == '-')) {
        i++;
    }
    if (i == start || i == n || s[i] != ':') {
        return -1;
    }
    Py_ssize_t property_start = ++i;
    while (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '\'' ||
                     s[i] == '-')) {
        i++;
    }
    if (i == property_start || n - i < 4 || memcmp(s + i, " = '", 4) != 0) {
        return -1;
    }
    *path_end = i;
    *literal_start = i + 4;
    *escaped = 0;
    for (i += 4; i < n; i++) {
        if (s[i] == '\\') {
            if (i + 1 >= n || (s[i + 1] != '\'' && s[i + 1] != '\\')) {
                return -1;
            }
            *escaped = 1;
            i++;
        } else if (s[i] == '\'') {
            *literal_end = i;
            return i + 1;
        }
    }
    return -1;
}

/* The unescaped literal (patterns._unescape) as a str; the pattern is ASCII. */
static PyObject *literal_str(const char *s, Py_ssize_t n, int escaped) {
    if (!escaped) {
        return PyUnicode_FromStringAndSize(s, n);
    }
    char *out = PyMem_Malloc((size_t)n + 1);
    if (out == NULL) {
        return PyErr_NoMemory();
    }
    Py_ssize_t o = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            i++;
        }
        out[o++] = s[i];
    }
    PyObject *result = PyUnicode_FromStringAndSize(out, o);
    PyMem_Free(out);
    return result;
}

/* Appends (kind, value) to found unless an equal pair is there already (the
 * reference's `item not in found`): 0, or -1 on error. Steals value. */
static int add_found(PyObject *found, int kind, PyObject *value) {
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(found); j++) {
        PyObject *item = PyList_GET_ITEM(found, j);
        if (PyTuple_GET_ITEM(item, 0) != kind_names[kind]) {
            continue;
        }
        int same = PyUnicode_Compare(PyTuple_GET_ITEM(item, 1), value);
        if (same == -1 && PyErr_Occurred()) {
            Py_DECREF(value);
            return -1;
        }
        if (same == 0) {
            Py_DECREF(value);
            return 0;
        }
    }
    PyObject *item = PyTuple_Pack(2, kind_names[kind], value);
    Py_DECREF(value);
    if (item == NULL) {
        return -1;
    }
    /* A tuple of two str: no cycle can pass through it (see prepare_indicator). */
    PyObject_GC_UnTrack(item);
    int failed = PyList_Append(found, item);
    Py_DECREF(item);
    return failed;
}

/* The found list as the tuple ingest keeps, untracked: str tuples only. */
static PyObject *found_tuple(PyObject *found) {
    PyObject *tuple = PyList_AsTuple(found);
    Py_DECREF(found);
    if (tuple != NULL) {
        PyObject_GC_UnTrack(tuple);
    }
    return tuple;
}

/* Adds the observable of normalise(kind, raw) to found: 0, 1 when Python must
 * judge the value (UNSURE), -1 on error. */
static int add_normalised(PyObject *found, int kind, PyObject *raw) {
    PyObject *value = normalise_fast(kind, raw);
    if (value == NULL) {
        return -1;
    }
    if (value == UNSURE) {
        return 1;
    }
    if (value == NONE_FOUND) {
        return 0;
    }
    return add_found(found, kind, value);
}

/* pattern_observables() of an ASCII pattern of one bracketed observation of
 * comparisons joined by ` AND ` or ` OR ` (what patterns._SINGLE_RE and
 * _SIMPLE accept, written with single spaces, as MISP and our generators
 * write them), every path one with a kind: a new tuple, or UNSURE (borrowed)
 * for Python to judge, or NULL on error. */
static PyObject *pattern_found(PyObject *pattern) {
    Py_ssize_t n, path_end, literal_start, literal_end;
    int escaped;
    const char *s = ascii_of(pattern, &n);
    if (s == NULL || n < 2 || s[0] != '[' || s[n - 1] != ']') {
        return UNSURE;
    }
    PyObject *found = PyList_New(0);
    if (found == NULL) {
        return NULL;
    }
    Py_ssize_t i = 1;
    for (;;) {
        Py_ssize_t path_start = i;
        /* n - 1: the last literal ends before the closing `]`. */
        i = comparison_at(s, n - 1, i, &path_end, &literal_start, &literal_end, &escaped);
        if (i < 0) {
            break;
        }
        PyObject *path = PyUnicode_FromStringAndSize(s + path_start, path_end - path_start);
        if (path == NULL) {
            Py_DECREF(found);
            return NULL;
        }
        PyObject *kind_index = PyDict_GetItemWithError(spelling_kinds, path);
        Py_DECREF(path);
        if (kind_index == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(found);
                return NULL;
            }
            break;
        }
        int kind = (int)PyLong_AsLong(kind_index), outcome = 0;
        if (kind != K_NONE) {
            PyObject *literal =
                literal_str(s + literal_start, literal_end - literal_start, escaped);
            if (literal == NULL) {
                Py_DECREF(found);
                return NULL;
            }
            outcome = add_normalised(found, kind, literal);
            Py_DECREF(literal);
        }
        if (outcome < 0) {
            Py_DECREF(found);
            return NULL;
        }
        if (outcome > 0) {
            break;
        }
        if (i == n - 1) {
            return found_tuple(found);
        }
        if (n - 1 - i >= 5 && memcmp(s + i, " AND ", 5) == 0) {
            i += 5;
        } else if (n - 1 - i >= 4 && memcmp(s + i, " OR ", 4) == 0) {
            i += 4;
        } else {
            break;
        }
    }
    Py_DECREF(found);
    return UNSURE;
}

/* ingest._search_text: the first non-empty str of name, value, pattern, cut
 * to 2000 characters and lower-cased. */
static PyObject *search_text(PyObject *obj) {
    PyObject *keys[3] = {s_name, s_value, s_pattern};
    for (int k = 0; k < 3; k++) {
        PyObject *text = PyDict_GetItemWithError(obj, keys[k]);
        if (text == NULL) {
            if (PyErr_Occurred()) {
                return NULL;
            }
            continue;
        }
        if (!PyUnicode_Check(text) || PyUnicode_GET_LENGTH(text) == 0) {
            continue;
        }
        Py_ssize_t n;
        const char *s = ascii_of(text, &n);
        PyObject *lowered;
        Py_INCREF(text); /* the dict's reference may go while we allocate */
        if (s != NULL) {
            lowered = ascii_lower(s, n < 2000 ? n : 2000);
        } else {
            PyObject *cut_text = PyUnicode_Substring(text, 0, 2000);
            lowered = cut_text == NULL ? NULL : PyObject_CallMethodNoArgs(cut_text, s_lower);
            Py_XDECREF(cut_text);
        }
        Py_DECREF(text);
        return lowered;
    }
    Py_RETURN_NONE;
}

static PyObject *get(PyObject *obj, PyObject *key) {
    /* Borrowed; NULL when absent (errors cannot occur for exact str keys). */
    return PyDict_GetItem(obj, key);
}

/* The marking refs of an indicator as a tuple, or UNSURE (borrowed). The
 * tuple is made first and its items checked: making it may run a collection,
 * and so Python code that changes the list (see prepare_indicator). */
static PyObject *marking_refs(PyObject *obj) {
    if (get(obj, s_granular_markings) != NULL) {
        return UNSURE;
    }
    PyObject *refs = get(obj, s_object_marking_refs);
    if (refs == NULL) {
        return PyTuple_New(0);
    }
    if (!PyList_CheckExact(refs)) {
        return UNSURE;
    }
    Py_INCREF(refs);
    PyObject *copy = PyList_AsTuple(refs);
    Py_DECREF(refs);
    if (copy == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(copy); i++) {
        if (!is_identifier(PyTuple_GET_ITEM(copy, i), "marking-definition")) {
            Py_DECREF(copy);
            return UNSURE;
        }
    }
    return copy;
}

/* prepare_indicator(obj) -> (stix_id, version_key, marking_refs, found, revoked,
 * search_text) or None (see the top of this file); found is a tuple of
 * (kind, value) tuples. */
static PyObject *prepare_indicator(PyObject *self, PyObject *obj) {
    if (!PyDict_CheckExact(obj)) {
        Py_RETURN_NONE;
    }
    PyObject *type = get(obj, s_type);
    if (type == NULL || !PyUnicode_CheckExact(type) ||
        PyUnicode_Compare(type, s_indicator) != 0) {
        Py_RETURN_NONE;
    }
    PyObject *stix_id = get(obj, s_id);
    PyObject *spec_version = get(obj, s_spec_version);
    if (stix_id == NULL || !is_identifier(stix_id, "indicator") || spec_version == NULL ||
        !PyUnicode_CheckExact(spec_version) || PyUnicode_Compare(spec_version, s_v21) != 0) {
        Py_RETURN_NONE;
    }
    /* created, modified (stix._check_versioning) */
    char created_key[30], version_key[30], from_key[30], until_key[30];
    PyObject *created = get(obj, s_created), *modified = get(obj, s_modified);
    if (!key_of_stamp(created, created_key) || modified == NULL) {
        Py_RETURN_NONE;
    }
    int modified_is_created =
        PyUnicode_CheckExact(modified) && PyUnicode_Compare(modified, created) == 0;
    if (modified_is_created) {
        memcpy(version_key, created_key, 30);
    } else if (!key_of_stamp(modified, version_key) || memcmp(version_key, created_key, 30) < 0) {
        Py_RETURN_NONE;
    }
    /* the indicator's own properties (stix._check_type_specific) */
    PyObject *pattern = get(obj, s_pattern), *pattern_type = get(obj, s_pattern_type);
    if (!is_nonempty_str(pattern) || !is_nonempty_str(pattern_type)) {
        Py_RETURN_NONE;
    }
    PyObject *valid_from = get(obj, s_valid_from);
    if (valid_from != NULL && PyUnicode_CheckExact(valid_from) &&
        PyUnicode_Compare(valid_from, modified) == 0) {
        memcpy(from_key, version_key, 30);
    } else if (!key_of_stamp(valid_from, from_key)) {
        Py_RETURN_NONE;
    }
    PyObject *valid_until = get(obj, s_valid_until);
    if (valid_until != NULL &&
        (!key_of_stamp(valid_until, until_key) || memcmp(until_key, from_key, 30) <= 0)) {
        Py_RETURN_NONE;
    }
    PyObject *created_by = get(obj, s_created_by_ref);
    if (created_by != NULL && !is_identifier(created_by, "identity")) {
        Py_RETURN_NONE;
    }
    int is_stix = PyUnicode_Compare(pattern_type, s_stix) == 0;
    int revoked = get(obj, s_revoked) == Py_True;
    /* Up to here nothing was allocated. What follows allocates, and an
     * allocation may run a collection and so Python code (a gc callback, a
     * finaliser) that changes the dict: what is still to be read is held. */
    Py_INCREF(stix_id);
    Py_INCREF(pattern);
    PyObject *result = NULL, *found = NULL, *text = NULL, *key = NULL;
    PyObject *refs = marking_refs(obj);
    if (refs == NULL || refs == UNSURE) {
        result = refs == NULL ? NULL : Py_NewRef(Py_None);
        refs = NULL;
        goto done;
    }
    /* observables (ingest._observables_of) */
    found = is_stix ? pattern_found(pattern) : PyTuple_New(0);
    if (found == NULL || found == UNSURE) {
        result = found == NULL ? NULL : Py_NewRef(Py_None);
        found = NULL;
        goto done;
    }
    text = search_text(obj);
    key = text == NULL ? NULL : PyUnicode_FromStringAndSize(version_key, 30);
    if (key == NULL) {
        goto done;
    }
    result = PyTuple_Pack(6, stix_id, key, refs, found, revoked ? Py_True : Py_False, text);
    if (result != NULL) {
        /* Ingest holds a batch of these (5,000) until it is written: left
         * tracked, they and their parts are what the collector's full
         * collections walk (0.13 s of 2.2 s per 100,000 indicators). Only
         * str, bool, None and such tuples inside: nothing a cycle can use. */
        PyObject_GC_UnTrack(result);
        PyObject_GC_UnTrack(refs);
    }
done:
    Py_XDECREF(refs);
    Py_XDECREF(found);
    Py_XDECREF(text);
    Py_XDECREF(key);
    Py_DECREF(pattern);
    Py_DECREF(stix_id);
    return result;
}

/* ------------------------------------------------------- other objects */

/* What prepare_row checks of an object besides an indicator: the class of
 * its type in stix.check_object and ingest._observables_of. */
enum {
    T_SDO,          /* the generic checks only, no observable */
    T_RELATIONSHIP, /* and relationship_type, source_ref, target_ref */
    T_SCO,          /* not versioned, spec_version optional, no observable */
    T_SCO_FILE,     /* observables.from_sco: hashes, then name */
    T_SCO_ARTIFACT, /* observables.from_sco: hashes */
    T_SCO_VALUE     /* + kind: observables.from_sco: value, of that kind */
};

/* The SDO types whose checks are check_object's generic ones (indicator,
 * relationship, sighting and marking-definition have their own). */
static const char *const PLAIN_SDO_TYPES[] = {
    "attack-pattern", "campaign", "course-of-action", "grouping",       "identity",
    "incident",       "infrastructure", "intrusion-set", "location",    "malware",
    "malware-analysis", "note",   "observed-data", "opinion",           "report",
    "threat-actor",   "tool",     "vulnerability",
};

static PyObject *object_types; /* dict: type (str) -> T_* code (int) */
static PyObject *hash_kinds;   /* dict: upper-case hash name (str) -> kind index (int) */
static PyObject *s_relationship_type, *s_source_ref, *s_target_ref, *s_hashes;

/* `<prefix>--<UUID>` with the prefix given by its length (is_identifier). */
static int is_identifier_of(PyObject *value, const char *prefix, Py_ssize_t p) {
    Py_ssize_t n;
    const char *s = ascii_of(value, &n);
    return s != NULL && n == p + 38 && memcmp(s, prefix, (size_t)p) == 0 && s[p] == '-' &&
           s[p + 1] == '-' && is_uuid(s + p + 2);
}

/* stix._ID_RE, any type: ([a-z0-9][a-z0-9-]*[a-z0-9])--UUID. The UUID has a
 * fixed length, so the type is all that comes before its `--`. */
static int is_any_identifier(PyObject *value) {
    Py_ssize_t n;
    const char *s = value == NULL ? NULL : ascii_of(value, &n);
    if (s == NULL || n < 2 + 38) {
        return 0;
    }
    Py_ssize_t p = n - 38;
    if (s[p] != '-' || s[p + 1] != '-' || !is_uuid(s + p + 2)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < p; i++) {
        unsigned char c = (unsigned char)s[i];
        int alnum = (c >= 'a' && c <= 'z') || is_digit(c);
        if (!(alnum || (c == '-' && i > 0 && i < p - 1))) {
            return 0;
        }
    }
    return 1;
}

/* An exact str equal to `expected` (an interned constant). */
static int is_exactly(PyObject *value, PyObject *expected) {
    return value == expected ||
           (PyUnicode_CheckExact(value) && PyUnicode_Compare(value, expected) == 0);
}

/* stix._check_versioning of an SDO with millisecond stamps: writes the key
 * of `modified`; 0 when Python must judge. */
static int sdo_version_key(PyObject *obj, char version_key[30]) {
    char created_key[30];
    PyObject *created = get(obj, s_created), *modified = get(obj, s_modified);
    if (!key_of_stamp(created, created_key) || modified == NULL) {
        return 0;
    }
    if (PyUnicode_CheckExact(modified) && PyUnicode_Compare(modified, created) == 0) {
        memcpy(version_key, created_key, 30);
        return 1;
    }
    return key_of_stamp(modified, version_key) && memcmp(version_key, created_key, 30) >= 0;
}

/* Adds normalise(kind, value) of a property's value to found, as from_sco
 * does: nothing for a value that is no str. 0, 1 (UNSURE), -1 on error. */
static int add_property(PyObject *found, int kind, PyObject *value) {
    if (value == NULL || !PyUnicode_Check(value)) {
        return 0;
    }
    if (!PyUnicode_CheckExact(value)) {
        return 1;
    }
    Py_INCREF(value); /* the dict's reference may go while we allocate */
    int outcome = add_normalised(found, kind, value);
    Py_DECREF(value);
    return outcome;
}

/* The hash kind of a `hashes` key (HASH_KINDS.get(algo.upper())): the kind
 * index, -1 for none, -2 when Python must judge (non-ASCII: str.upper maps
 * some letters to ASCII ones), -3 on error. */
static int hash_kind(PyObject *algo) {
    Py_ssize_t n;
    const char *s = ascii_of(algo, &n);
    if (s == NULL) {
        return -2;
    }
    char upper[16];
    if (n >= (Py_ssize_t)sizeof upper) {
        return -1; /* longer than any name in the table */
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        upper[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    PyObject *name = PyUnicode_FromStringAndSize(upper, n);
    if (name == NULL) {
        return -3;
    }
    PyObject *kind = PyDict_GetItemWithError(hash_kinds, name);
    Py_DECREF(name);
    if (kind == NULL) {
        return PyErr_Occurred() ? -3 : -1;
    }
    return (int)PyLong_AsLong(kind);
}

/* from_sco's hashes: 0, 1 (UNSURE), -1 on error. */
static int add_hashes(PyObject *found, PyObject *obj) {
    PyObject *hashes = get(obj, s_hashes);
    if (hashes == NULL || !PyDict_Check(hashes)) {
        return 0;
    }
    if (!PyDict_CheckExact(hashes)) {
        return 1; /* a subclass's items() is its own */
    }
    Py_INCREF(hashes);
    PyObject *items = PyDict_Items(hashes); /* owns its keys and values */
    Py_DECREF(hashes);
    if (items == NULL) {
        return -1;
    }
    int outcome = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items) && outcome == 0; i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        int kind = hash_kind(PyTuple_GET_ITEM(pair, 0));
        if (kind == -2 || kind == -3) {
            outcome = kind == -2 ? 1 : -1;
        } else if (kind >= 0) {
            outcome = add_property(found, kind, PyTuple_GET_ITEM(pair, 1));
        }
    }
    Py_DECREF(items);
    return outcome;
}

/* observables.from_sco for the SCO classes: a new tuple, UNSURE, or NULL. */
static PyObject *sco_found(PyObject *obj, int code) {
    if (code < T_SCO_FILE) {
        return PyTuple_New(0);
    }
    PyObject *found = PyList_New(0);
    if (found == NULL) {
        return NULL;
    }
    int outcome;
    if (code == T_SCO_FILE || code == T_SCO_ARTIFACT) {
        outcome = add_hashes(found, obj);
        if (outcome == 0 && code == T_SCO_FILE) {
            outcome = add_property(found, K_FILENAME, get(obj, s_name));
        }
    } else {
        outcome = add_property(found, code - T_SCO_VALUE, get(obj, s_value));
    }
    if (outcome != 0) {
        Py_DECREF(found);
        return outcome < 0 ? NULL : UNSURE;
    }
    return found_tuple(found);
}

/* The checks of check_object for a type of object_types, and its
 * observables: prepare_indicator's tuple, or None for Python to judge. */
static PyObject *prepare_other(PyObject *obj, PyObject *type, int code) {
    Py_ssize_t type_length;
    const char *type_text = ascii_of(type, &type_length);
    PyObject *stix_id = get(obj, s_id);
    if (type_text == NULL || stix_id == NULL ||
        !is_identifier_of(stix_id, type_text, type_length)) {
        Py_RETURN_NONE;
    }
    int sco = code >= T_SCO;
    PyObject *spec_version = get(obj, s_spec_version);
    if (spec_version == NULL ? !sco : !is_exactly(spec_version, s_v21)) {
        Py_RETURN_NONE;
    }
    char version_key[30];
    Py_ssize_t key_length = sco ? 0 : 30;
    if (!sco && !sdo_version_key(obj, version_key)) {
        Py_RETURN_NONE;
    }
    if (code == T_RELATIONSHIP &&
        (!is_nonempty_str(get(obj, s_relationship_type)) ||
         !is_any_identifier(get(obj, s_source_ref)) || !is_any_identifier(get(obj, s_target_ref)))) {
        Py_RETURN_NONE;
    }
    PyObject *created_by = get(obj, s_created_by_ref);
    if (created_by != NULL && !is_identifier(created_by, "identity")) {
        Py_RETURN_NONE;
    }
    int revoked = get(obj, s_revoked) == Py_True;
    /* From here on allocations may run Python code (see prepare_indicator). */
    Py_INCREF(stix_id);
    PyObject *result = NULL, *found = NULL, *text = NULL, *key = NULL;
    PyObject *refs = marking_refs(obj);
    if (refs == NULL || refs == UNSURE) {
        result = refs == NULL ? NULL : Py_NewRef(Py_None);
        refs = NULL;
        goto done;
    }
    found = sco_found(obj, code);
    if (found == NULL || found == UNSURE) {
        result = found == NULL ? NULL : Py_NewRef(Py_None);
        found = NULL;
        goto done;
    }
    text = search_text(obj);
    key = text == NULL ? NULL : PyUnicode_FromStringAndSize(version_key, key_length);
    if (key == NULL) {
        goto done;
    }
    result = PyTuple_Pack(6, stix_id, key, refs, found, revoked ? Py_True : Py_False, text);
    if (result != NULL) {
        PyObject_GC_UnTrack(result); /* as prepare_indicator's */
        PyObject_GC_UnTrack(refs);
    }
done:
    Py_XDECREF(refs);
    Py_XDECREF(found);
    Py_XDECREF(text);
    Py_XDECREF(key);
    Py_DECREF(stix_id);
    return result;
}

/* prepare_object(obj) -> (type, prepare_indicator's tuple) of an indicator
 * or of an object of object_types, or None (see prepare_row). */
static PyObject *prepare_object(PyObject *self, PyObject *obj) {
    if (!PyDict_CheckExact(obj)) {
        Py_RETURN_NONE;
    }
    PyObject *type = get(obj, s_type);
    if (type == NULL || !PyUnicode_CheckExact(type)) {
        Py_RETURN_NONE;
    }
    PyObject *fields;
    if (type == s_indicator || PyUnicode_Compare(type, s_indicator) == 0) {
        type = s_indicator;
        Py_INCREF(type);
        fields = prepare_indicator(self, obj);
    } else {
        PyObject *code = PyDict_GetItemWithError(object_types, type);
        if (code == NULL) {
            if (PyErr_Occurred()) {
                return NULL;
            }
            Py_RETURN_NONE;
        }
        Py_INCREF(type);
        fields = prepare_other(obj, type, (int)PyLong_AsLong(code));
    }
    if (fields == NULL || fields == Py_None) {
        Py_DECREF(type);
        return fields;
    }
    PyObject *pair = PyTuple_Pack(2, type, fields);
    Py_DECREF(type);
    Py_DECREF(fields);
    return pair;
}

/* What prepare_row encodes and hashes with: orjson.dumps, its sort-keys
 * option and hashlib.blake2b, given by ingest.py (set_encoder), so that the
 * stored JSON and its hash are made by the very functions the Python path
 * calls. */
static PyObject *encoder, *encoder_option, *hasher, *kw_option, *kw_digest_size, *sixteen,
    *s_hexdigest;

/* prepare_row(obj, index, tlp) -> ingest's prepared tuple (index, id, type,
 * version key, marking refs, observables, revoked, search text, content hash,
 * JSON, TLP) of an indicator prepare_indicator takes, or None. The JSON is
 * orjson.dumps(obj, option=OPT_SORT_KEYS) as str, the hash the BLAKE2b-128
 * hex digest of it: what Ingestor._prepare computes, without its calls. */
static PyObject *prepare_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "prepare_row(obj, index, tlp)");
        return NULL;
    }
    if (encoder == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "set_encoder was not called");
        return NULL;
    }
    PyObject *typed = prepare_object(self, args[0]);
    if (typed == NULL || typed == Py_None) {
        return typed;
    }
    PyObject *type = PyTuple_GET_ITEM(typed, 0), *fields = PyTuple_GET_ITEM(typed, 1);
    PyObject *row = NULL, *digest = NULL, *text = NULL, *hash = NULL;
    PyObject *encode_args[2] = {args[0], encoder_option};
    PyObject *data = PyObject_Vectorcall(encoder, encode_args, 1, kw_option);
    if (data == NULL || !PyBytes_Check(data)) {
        if (data != NULL) {
            PyErr_SetString(PyExc_TypeError, "the encoder must return bytes");
        }
        goto done;
    }
    PyObject *hash_args[2] = {data, sixteen};
    hash = PyObject_Vectorcall(hasher, hash_args, 1, kw_digest_size);
    if (hash == NULL) {
        goto done;
    }
    digest = PyObject_CallMethodNoArgs(hash, s_hexdigest);
    if (digest == NULL) {
        goto done;
    }
    text = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), NULL);
    if (text == NULL) {
        goto done;
    }
    PyObject *const *f = &PyTuple_GET_ITEM(fields, 0);
    row = PyTuple_Pack(11, args[1], f[0], type, f[1], f[2], f[3], f[4], f[5], digest, text,
                       args[2]);
    if (row != NULL) {
        PyObject_GC_UnTrack(row); /* as prepare_indicator's tuple: str, int, bool, tuples */
    }
done:
    Py_XDECREF(data);
    Py_XDECREF(hash);
    Py_XDECREF(digest);
    Py_XDECREF(text);
    Py_DECREF(typed);
    return row;
}

/* set_encoder(dumps, option, blake2b): see prepare_row. */
static PyObject *set_encoder(PyObject *self, PyObject *args) {
    PyObject *dumps, *option, *blake2b;
    if (!PyArg_ParseTuple(args, "OOO", &dumps, &option, &blake2b)) {
        return NULL;
    }
    Py_INCREF(dumps);
    Py_XSETREF(encoder, dumps);
    Py_INCREF(option);
    Py_XSETREF(encoder_option, option);
    Py_INCREF(blake2b);
    Py_XSETREF(hasher, blake2b);
    Py_RETURN_NONE;
}

/* set_spellings({spelling: kind name}, silent=()): the pattern paths
 * prepare_indicator extracts from, and those it accepts that carry no
 * observable (patterns.SILENT_PATHS), given by patterns.py so that one table
 * rules both paths. A spelling of kind None is not taken: its observable,
 * if any, is the value's to tell (patterns._through_reference). */
static PyObject *set_spellings(PyObject *self, PyObject *args) {
    PyObject *table, *silent = NULL;
    if (!PyArg_ParseTuple(args, "O!|O", &PyDict_Type, &table, &silent)) {
        return NULL;
    }
    PyObject *indexed = PyDict_New();
    if (indexed == NULL) {
        return NULL;
    }
    PyObject *spelling, *kind;
    Py_ssize_t at = 0;
    while (PyDict_Next(table, &at, &spelling, &kind)) {
        int k = kind == Py_None ? -1 : kind_index_of(kind);
        PyObject *index = k < 0 ? NULL : PyLong_FromLong(k);
        if (k >= 0 && (index == NULL || PyDict_SetItem(indexed, spelling, index) < 0)) {
            Py_XDECREF(index);
            Py_DECREF(indexed);
            return NULL;
        }
        Py_XDECREF(index);
    }
    PyObject *none_index = PyLong_FromLong(K_NONE);
    PyObject *iterator = silent == NULL || none_index == NULL ? NULL : PyObject_GetIter(silent);
    if (silent != NULL && iterator == NULL) {
        Py_XDECREF(none_index);
        Py_DECREF(indexed);
        return NULL;
    }
    while (iterator != NULL && (spelling = PyIter_Next(iterator)) != NULL) {
        int failed = !PyUnicode_Check(spelling) || PyDict_SetItem(indexed, spelling, none_index) < 0;
        Py_DECREF(spelling);
        if (failed) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "silent spellings must be str");
            }
            break;
        }
    }
    Py_XDECREF(iterator);
    Py_XDECREF(none_index);
    if (PyErr_Occurred()) {
        Py_DECREF(indexed);
        return NULL;
    }
    Py_XSETREF(spelling_kinds, indexed);
    Py_RETURN_NONE;
}

/* The index of a kind name among KIND_NAMES, or -1. */
static int kind_index_of(PyObject *name) {
    for (int k = 0; k < K_COUNT; k++) {
        if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, KIND_NAMES[k]) == 0) {
            return k;
        }
    }
    return -1;
}

/* set_object_types({sco type: kind name or None}, {hash name: kind name}):
 * the SCO types prepare_row takes, with the kind of their `value`
 * (observables.PATH_KINDS; a file's and an artifact's hashes and a file's
 * name are from_sco's own rule), and observables.HASH_KINDS,
 * given by ingest.py so that one table rules both paths. A type whose kind
 * this file does not know is left to Python. */
static PyObject *set_object_types(PyObject *self, PyObject *args) {
    PyObject *sco_kinds, *hashes;
    if (!PyArg_ParseTuple(args, "O!O!", &PyDict_Type, &sco_kinds, &PyDict_Type, &hashes)) {
        return NULL;
    }
    PyObject *name, *kind;
    Py_ssize_t at = 0;
    while (PyDict_Next(sco_kinds, &at, &name, &kind)) {
        int k = kind == Py_None ? -1 : kind_index_of(kind);
        if (kind != Py_None && k < 0) {
            continue;
        }
        /* from_sco reads a file's and an artifact's hashes, whatever PATH_KINDS says. */
        int is_file = PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "file") == 0;
        int is_artifact =
            PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "artifact") == 0;
        long code_value = is_file       ? T_SCO_FILE
                          : is_artifact ? T_SCO_ARTIFACT
                          : k < 0       ? T_SCO
                                        : T_SCO_VALUE + k;
        PyObject *code = PyLong_FromLong(code_value);
        if (code == NULL || PyDict_SetItem(object_types, name, code) < 0) {
            Py_XDECREF(code);
            return NULL;
        }
        Py_DECREF(code);
    }
    PyObject *indexed = PyDict_New();
    if (indexed == NULL) {
        return NULL;
    }
    at = 0;
    while (PyDict_Next(hashes, &at, &name, &kind)) {
        int k = kind_index_of(kind);
        PyObject *index = k < 0 ? NULL : PyLong_FromLong(k);
        if (k >= 0 && (index == NULL || PyDict_SetItem(indexed, name, index) < 0)) {
            Py_XDECREF(index);
            Py_DECREF(indexed);
            return NULL;
        }
        Py_XDECREF(index);
    }
    Py_XSETREF(hash_kinds, indexed);
    Py_RETURN_NONE;
}

/* -------------------------------------------------------- parsed trees */

/* untrack_tree(tree): the exact dicts and lists of a parsed JSON document
 * taken out of the cyclic collector's sight (the caller says why it may). A
 * JSON tree holds no cycle; once parsed, every collection that allocations
 * start walks it again and frees nothing (18 ms CPU per 3.5 MB MISP
 * document, issue 4). Objects already untracked are not entered, so a cycle
 * in what is given ends the walk instead of looping. No Python code runs
 * during the walk (PyMem_Realloc starts no collection), so the borrowed
 * pointers on the stack stay valid. */
static PyObject *untrack_tree(PyObject *self, PyObject *root) {
    Py_ssize_t size = 0, capacity = 256;
    PyObject **stack = PyMem_Malloc((size_t)capacity * sizeof *stack);
    if (stack == NULL) {
        return PyErr_NoMemory();
    }
    stack[size++] = root;
    while (size > 0) {
        PyObject *node = stack[--size];
        if (!(PyDict_CheckExact(node) || PyList_CheckExact(node)) || !PyObject_GC_IsTracked(node)) {
            continue;
        }
        PyObject_GC_UnTrack(node);
        Py_ssize_t count = PyDict_CheckExact(node) ? PyDict_GET_SIZE(node) : PyList_GET_SIZE(node);
        if (size + count > capacity) {
            Py_ssize_t wanted = (size + count) * 2;
            PyObject **grown = PyMem_Realloc(stack, (size_t)wanted * sizeof *stack);
            if (grown == NULL) {
                PyMem_Free(stack);
                return PyErr_NoMemory();
            }
            stack = grown;
            capacity = wanted;
        }
        if (PyDict_CheckExact(node)) {
            Py_ssize_t at = 0;
            PyObject *key, *value;
            while (PyDict_Next(node, &at, &key, &value) && size < capacity) {
                stack[size++] = value;
            }
        } else {
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(node) && size < capacity; i++) {
                stack[size++] = PyList_GET_ITEM(node, i);
            }
        }
    }
    PyMem_Free(stack);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------ correlation keys */

/* correlate.keys.key_of in C for ASCII values (all but a few IDN URLs and
 * malformed values): Python's key_of, registered by set_key_fallback, answers
 * the rest, so that str.isdigit's Unicode digits and socket's own errors stay
 * Python's. */
static PyObject *key_fallback;
static PyObject *s_ipv4, *s_ipv6, *s_domain, *s_url;

/* prefix + the labels of s[0:n] in reverse order + "." (keys.reversed_labels). */
static PyObject *reversed_key(const char *prefix, const char *s, Py_ssize_t n) {
    Py_ssize_t p = (Py_ssize_t)strlen(prefix);
    PyObject *out = PyUnicode_New(p + n + 1, 127);
    if (out == NULL) {
        return NULL;
    }
    char *d = (char *)PyUnicode_DATA(out);
    memcpy(d, prefix, (size_t)p);
    Py_ssize_t o = p, end = n;
    for (Py_ssize_t i = n - 1; i >= -1; i--) {
        if (i >= 0 && s[i] != '.') {
            continue;
        }
        memcpy(d + o, s + i + 1, (size_t)(end - i - 1));
        o += end - i - 1;
        d[o++] = '.';
        end = i;
    }
    return out;
}

/* keys.url_host of an ASCII URL: sets the host's span, 0 when there is none. */
static int url_host_span(const char *s, Py_ssize_t n, Py_ssize_t *start, Py_ssize_t *end) {
    Py_ssize_t i = 0;
    while (i + 2 < n && !(s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/')) {
        i++;
    }
    if (i + 2 >= n) {
        return 0;
    }
    Py_ssize_t netloc = i + 3, stop = netloc;
    while (stop < n && s[stop] != '/') {
        stop++;
    }
    for (Py_ssize_t j = netloc; j < stop; j++) {
        if (s[j] == '?') {
            stop = j;
            break;
        }
    }
    Py_ssize_t host = netloc;
    for (Py_ssize_t j = stop - 1; j >= netloc; j--) {
        if (s[j] == '@') {
            host = j + 1;
            break;
        }
    }
    if (host == stop || s[host] == '[') {
        return 0;
    }
    Py_ssize_t host_end = host;
    while (host_end < stop && s[host_end] != ':') {
        host_end++;
    }
    while (host_end > host && s[host_end - 1] == '.') {
        host_end--;
    }
    int digits = 0, other = 0;
    for (Py_ssize_t j = host; j < host_end; j++) {
        if (is_digit((unsigned char)s[j])) {
            digits = 1;
        } else if (s[j] != '.') {
            other = 1;
        }
    }
    if (host_end == host || (digits && !other)) {
        return 0;
    }
    *start = host;
    *end = host_end;
    return 1;
}

static PyObject *address_key(const char *prefix, int family, const char *s, Py_ssize_t n) {
    char text[64];
    unsigned char packed[16];
    if (n >= (Py_ssize_t)sizeof text) {
        Py_RETURN_NONE; /* longer than any address: inet_pton refuses it too */
    }
    memcpy(text, s, (size_t)n);
    text[n] = '\0';
    if (inet_pton(family, text, packed) != 1) {
        Py_RETURN_NONE;
    }
    int bytes = family == AF_INET ? 4 : 16;
    char key[2 + 32];
    static const char hex[] = "0123456789abcdef";
    memcpy(key, prefix, 2);
    for (int i = 0; i < bytes; i++) {
        key[2 + 2 * i] = hex[packed[i] >> 4];
        key[3 + 2 * i] = hex[packed[i] & 15];
    }
    return PyUnicode_FromStringAndSize(key, 2 + 2 * bytes);
}

static PyObject *key_of(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "key_of(kind, value)");
        return NULL;
    }
    PyObject *kind = args[0], *value = args[1];
    Py_ssize_t n;
    const char *s = ascii_of(value, &n);
    if (s == NULL || memchr(s, 0, (size_t)n) != NULL || key_fallback == NULL) {
        if (key_fallback == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "set_key_fallback was not called");
            return NULL;
        }
        return PyObject_Vectorcall(key_fallback, args, 2, NULL);
    }
    if (!PyUnicode_Check(kind)) {
        Py_RETURN_NONE;
    }
    if (kind == s_ipv4 || PyUnicode_Compare(kind, s_ipv4) == 0) {
        return address_key("4:", AF_INET, s, n);
    }
    if (kind == s_ipv6 || PyUnicode_Compare(kind, s_ipv6) == 0) {
        return address_key("6:", AF_INET6, s, n);
    }
    if (kind == s_domain || PyUnicode_Compare(kind, s_domain) == 0) {
        return reversed_key("d:", s, n);
    }
    if (kind == s_url || PyUnicode_Compare(kind, s_url) == 0) {
        Py_ssize_t start, end;
        if (!url_host_span(s, n, &start, &end)) {
            Py_RETURN_NONE;
        }
        return reversed_key("u:", s + start, end - start);
    }
    Py_RETURN_NONE;
}

/* set_key_fallback(key_of): the Python key_of, for what key_of leaves to it. */
static PyObject *set_key_fallback(PyObject *self, PyObject *function) {
    Py_INCREF(function);
    Py_XSETREF(key_fallback, function);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"cut", cut, METH_VARARGS, "Whole elements of a JSON array from pos (see _ingest.c)."},
    {"array_start", array_start, METH_VARARGS, "Where a document's objects array begins."},
    {"prepare_indicator", prepare_indicator, METH_O, "check_object + observables of an indicator."},
    {"prepare_row", (PyCFunction)(void (*)(void))prepare_row, METH_FASTCALL,
     "Ingest's prepared tuple of an indicator."},
    {"set_encoder", set_encoder, METH_VARARGS, "The JSON encoder and hash prepare_row uses."},
    {"set_spellings", set_spellings, METH_VARARGS, "The pattern paths and their kinds."},
    {"prepare_object", prepare_object, METH_O, "(type, prepare_indicator's tuple) of an object."},
    {"set_object_types", set_object_types, METH_VARARGS, "The SCO types and hash names."},
    {"untrack_tree", untrack_tree, METH_O, "A parsed JSON tree out of the collector's sight."},
    {"key_of", (PyCFunction)(void (*)(void))key_of, METH_FASTCALL, "correlate.keys.key_of."},
    {"set_key_fallback", set_key_fallback, METH_O, "The Python key_of, for the rest."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ingest", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__ingest(void) {
    struct {
        PyObject **slot;
        const char *text;
    } names[] = {
        {&s_type, "type"},
        {&s_id, "id"},
        {&s_spec_version, "spec_version"},
        {&s_created, "created"},
        {&s_modified, "modified"},
        {&s_pattern, "pattern"},
        {&s_pattern_type, "pattern_type"},
        {&s_valid_from, "valid_from"},
        {&s_valid_until, "valid_until"},
        {&s_created_by_ref, "created_by_ref"},
        {&s_object_marking_refs, "object_marking_refs"},
        {&s_granular_markings, "granular_markings"},
        {&s_revoked, "revoked"},
        {&s_name, "name"},
        {&s_value, "value"},
        {&s_indicator, "indicator"},
        {&s_stix, "stix"},
        {&s_v21, "2.1"},
        {&s_lower, "lower"},
        {&s_ipv4, "ipv4"},
        {&s_ipv6, "ipv6"},
        {&s_domain, "domain"},
        {&s_url, "url"},
        {&s_relationship_type, "relationship_type"},
        {&s_source_ref, "source_ref"},
        {&s_target_ref, "target_ref"},
        {&s_hashes, "hashes"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].text);
        if (*names[i].slot == NULL) {
            return NULL;
        }
    }
    for (int k = 0; k < K_COUNT; k++) {
        kind_names[k] = PyUnicode_InternFromString(KIND_NAMES[k]);
        if (kind_names[k] == NULL) {
            return NULL;
        }
    }
    object_types = PyDict_New();
    hash_kinds = PyDict_New();
    if (object_types == NULL || hash_kinds == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof PLAIN_SDO_TYPES / sizeof PLAIN_SDO_TYPES[0]; i++) {
        PyObject *name = PyUnicode_InternFromString(PLAIN_SDO_TYPES[i]);
        PyObject *code = PyLong_FromLong(T_SDO);
        if (name == NULL || code == NULL || PyDict_SetItem(object_types, name, code) < 0) {
            return NULL;
        }
        Py_DECREF(name);
        Py_DECREF(code);
    }
    {
        PyObject *name = PyUnicode_InternFromString("relationship");
        PyObject *code = PyLong_FromLong(T_RELATIONSHIP);
        if (name == NULL || code == NULL || PyDict_SetItem(object_types, name, code) < 0) {
            return NULL;
        }
        Py_DECREF(name);
        Py_DECREF(code);
    }
    spelling_kinds = PyDict_New();
    s_hexdigest = PyUnicode_InternFromString("hexdigest");
    /* Interned: orjson knows its keyword by identity. */
    kw_option = Py_BuildValue("(N)", PyUnicode_InternFromString("option"));
    kw_digest_size = Py_BuildValue("(N)", PyUnicode_InternFromString("digest_size"));
    sixteen = PyLong_FromLong(16);
    if (spelling_kinds == NULL || s_hexdigest == NULL || kw_option == NULL ||
        kw_digest_size == NULL || sixteen == NULL) {
        return NULL;
    }
    return PyModule_Create(&module);
}
