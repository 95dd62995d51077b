/* The batch look-ups of the match index (shieldwall/match/index.py) in C.
 *
 * Why C: a look-up is a parse and one to a few dictionary probes, ~100 ns of
 * work; the same loop in Python costs ~1 us a value in interpreter overhead
 * (measured: 470k-980k typed look-ups per CPU-second at 1M indicators, where
 * issue 6 asks for 1M at 10M). The tables stay the Python dictionaries of
 * `MatchIndex`; this module only walks them.
 *
 * Each function handles the common shape of a value (ASCII, already in or
 * trivially brought to normal form) and hands every other value to `slow`, a
 * Python callable `slow(position, raw, out)` that runs the pure-Python path of
 * index.py for that one value, so edge cases keep exactly one implementation.
 * Hits are appended to `out` as `(position, kind, value, slots)`, in input
 * order; tests compare every function against the Python path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static PyObject *KIND_IPV4, *KIND_IPV6, *KIND_CIDR, *KIND_DOMAIN;

/* The white space `str.strip()` removes, for ASCII. */
static int is_py_space(unsigned char c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
}

static PyObject *ascii_str(const char *data, Py_ssize_t length) {
    PyObject *text = PyUnicode_New(length, 127);
    if (text != NULL) {
        memcpy(PyUnicode_1BYTE_DATA(text), data, (size_t)length);
    }
    return text;
}

/* Appends (position, kind, value, slots); steals nothing. 0 on success. */
static int append_hit(PyObject *out, Py_ssize_t position, PyObject *kind, PyObject *value,
                      PyObject *slots) {
    Py_INCREF(kind);
    Py_INCREF(value);
    Py_INCREF(slots);
    PyObject *where = PyLong_FromSsize_t(position);
    PyObject *hit = where == NULL ? NULL : PyTuple_New(4);
    if (hit == NULL) {
        Py_XDECREF(where);
        Py_DECREF(kind);
        Py_DECREF(value);
        Py_DECREF(slots);
        return -1;
    }
    PyTuple_SET_ITEM(hit, 0, where);
    PyTuple_SET_ITEM(hit, 1, kind);
    PyTuple_SET_ITEM(hit, 2, value);
    PyTuple_SET_ITEM(hit, 3, slots);
    if (PyLong_CheckExact(slots) && PyUnicode_CheckExact(kind) && PyUnicode_CheckExact(value)) {
        /* Nothing in it can be part of a cycle: untracked now, as the collector
         * would untrack it on its first pass, which then never walks it. */
        PyObject_GC_UnTrack(hit);
    }
    int failed = PyList_Append(out, hit);
    Py_DECREF(hit);
    return failed;
}

/* Collections are paused while a batch runs (see `without_gc`); whether this
 * batch paused them, so that Python code it calls runs with them on. */
static _Thread_local int gc_paused_here;

static int call_slow(PyObject *slow, Py_ssize_t position, PyObject *raw, PyObject *out) {
    int paused = gc_paused_here;
    if (paused) {
        PyGC_Enable(); /* Python code may switch threads: they must not run without collections */
    }
    PyObject *done = PyObject_CallFunction(slow, "nOO", position, raw, out);
    if (paused) {
        PyGC_Disable();
    }
    if (done == NULL) {
        return -1;
    }
    Py_DECREF(done);
    return 0;
}

/* The slots a dictionary holds for an integer key, or NULL (borrowed; error set if any). */
static PyObject *probe_int(PyObject *table, unsigned long long key) {
    PyObject *number = PyLong_FromUnsignedLongLong(key);
    if (number == NULL) {
        return NULL;
    }
    PyObject *slots = PyDict_GetItemWithError(table, number);
    Py_XINCREF(slots);
    Py_DECREF(number);
    return slots;
}

static PyObject *probe_int128(PyObject *table, unsigned __int128 key) {
    if (key >> 64 == 0) {
        return probe_int(table, (unsigned long long)key);
    }
    unsigned char bytes[16];
    for (int i = 15; i >= 0; i--) {
        bytes[i] = (unsigned char)(key & 0xff);
        key >>= 8;
    }
    PyObject *number = _PyLong_FromByteArray(bytes, 16, 0, 0);
    if (number == NULL) {
        return NULL;
    }
    PyObject *slots = PyDict_GetItemWithError(table, number);
    Py_XINCREF(slots);
    Py_DECREF(number);
    return slots;
}

/* An ASCII str without NUL, short enough for an address: its bytes, else NULL. */
static const char *address_text(PyObject *raw, char *buffer, size_t size) {
    if (!PyUnicode_Check(raw) || !PyUnicode_IS_ASCII(raw)) {
        return NULL;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(raw);
    if ((size_t)length >= size) {
        return NULL;
    }
    const char *data = (const char *)PyUnicode_1BYTE_DATA(raw);
    if (memchr(data, 0, (size_t)length) != NULL) {
        return NULL;
    }
    memcpy(buffer, data, (size_t)length);
    buffer[length] = 0;
    return buffer;
}


/* ------------------------------------------------------------------ U32Table
 *
 * The IPv4 tables of the index (one per prefix length): network (uint32) ->
 * slots, open addressing with linear probing, key and value side by side.
 * Why not a dict: at 10 M indicators a dict probe with an int key touches the
 * index array, the entry and the key object (three cache misses, ~100 ns
 * each), and each entry costs ~90 bytes with its key and slot objects; here a
 * probe is one cache line and an entry 8 bytes.
 *
 * A value >= 0 is the one slot holding the key; a value < 0 is -(i + 1) for
 * the list `shared[i]` of the slots sharing it (the list `get` returns, as a
 * dict holding lists would).
 */


/* ------------------------------------------------------------------ table memory
 *
 * The tables of a large index span hundreds of MiB, and every probe lands on
 * a random page: with 4 KiB pages most probes also miss the TLB. Tables of
 * 4 MiB and more are placed on 2 MiB boundaries and offered to the kernel as
 * transparent huge pages (this machine's setting is `madvise`). They are
 * registered with tracemalloc like any other allocation, so memory figures
 * stay whole.
 */

#define HUGE_TABLE (4u << 20)
#define HUGE_PAGE (2u << 20)
#define TABLE_DOMAIN 0x5357 /* tracemalloc domain of the tables ("SW") */

static void *table_alloc(size_t bytes) {
    void *memory = NULL;
    if (bytes >= HUGE_TABLE) {
        if (posix_memalign(&memory, HUGE_PAGE, bytes) != 0) {
            memory = NULL;
        } else {
            madvise(memory, bytes, MADV_HUGEPAGE); /* a hint: refused is fine */
        }
    } else {
        memory = malloc(bytes);
    }
    if (memory == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    PyTraceMalloc_Track(TABLE_DOMAIN, (uintptr_t)memory, bytes);
    return memory;
}

static void table_free(void *memory) {
    if (memory != NULL) {
        PyTraceMalloc_Untrack(TABLE_DOMAIN, (uintptr_t)memory);
        free(memory);
    }
}

#define EMPTY INT32_MIN

/* The slots of an entry found, as a new reference. */
/* Takes a container the index fills with ints or strs only out of the
 * collector's sight. Why: a full collection visits every element of every
 * tracked container, and at 10 M indicators the tables' key and slot lists
 * hold tens of millions (measured: 0.34 s per full collection, three of them
 * during 400,000 look-ups, two thirds of their time). Such lists cannot be
 * part of a cycle the index makes. */
static void untrack(PyObject *container) {
    if (PyObject_GC_IsTracked(container)) {
        PyObject_GC_UnTrack(container);
    }
}

/* `capacity` free entries of `size` bytes (whose first field is the value). */
static void *new_entries(Py_ssize_t capacity, size_t size) {
    char *entries = table_alloc((size_t)capacity * size);
    for (Py_ssize_t i = 0; entries != NULL && i < capacity; i++) {
        const int32_t empty = EMPTY;
        memcpy(entries + (size_t)i * size, &empty, sizeof empty);
    }
    return entries;
}

/* A slot to add: 0 to 2**31 - 1 (the entries hold it as int32). */
static int check_slot(long slot) {
    if (slot < 0 || slot > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a slot is between 0 and 2**31 - 1");
        return -1;
    }
    return 0;
}

static PyObject *entry_slots(PyObject *shared, int32_t value) {
    if (value >= 0) {
        return PyLong_FromLong(value);
    }
    PyObject *slots = PyList_GET_ITEM(shared, -(Py_ssize_t)value - 1);
    Py_INCREF(slots);
    return slots;
}


/* Seeds the IPv4 tables' hash per process. */
static uint64_t table_seed;

static uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}


/* Adds `slot` to a value already holding a key (which makes it a shared key),
 * in `*value`. The caller finds its entry again before writing the value back:
 * the allocations here may run a collection, and a finalizer may let another
 * thread grow the table. */
static int add_shared(PyObject *shared, int32_t *value, long slot) {
    if (*value < 0) {
        PyObject *number = PyLong_FromLong(slot);
        int failed = number == NULL ||
                     PyList_Append(PyList_GET_ITEM(shared, -(Py_ssize_t)*value - 1), number) < 0;
        Py_XDECREF(number);
        return failed ? -1 : 0;
    }
    if (PyList_GET_SIZE(shared) >= INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many shared keys");
        return -1;
    }
    PyObject *slots = Py_BuildValue("[ll]", (long)*value, slot);
    if (slots == NULL || PyList_Append(shared, slots) < 0) {
        Py_XDECREF(slots);
        return -1;
    }
    untrack(slots);
    Py_DECREF(slots);
    *value = (int32_t)(-PyList_GET_SIZE(shared));
    return 0;
}


typedef struct {
    int32_t value; /* first in both entry types: `new_entries` marks it EMPTY */
    uint32_t key;
} Entry;

typedef struct {
    PyObject_HEAD
    Entry *entries;
    Py_ssize_t capacity; /* a power of two */
    Py_ssize_t used;
    PyObject *shared;    /* list of lists of slots */
} U32Table;

static PyTypeObject U32TableType;

static Py_ssize_t bucket(uint32_t key, Py_ssize_t capacity) {
    /* Mixed with a per-process seed: addresses of one network differ only in
     * their low bits, and keys chosen to share a bucket cannot be precomputed. */
    return (Py_ssize_t)mix64(key ^ table_seed) & (capacity - 1);
}

static Entry *find(const U32Table *table, uint32_t key) {
    Py_ssize_t mask = table->capacity - 1;
    for (Py_ssize_t at = bucket(key, table->capacity);; at = (at + 1) & mask) {
        Entry *entry = &table->entries[at];
        if (entry->value == EMPTY || entry->key == key) {
            return entry;
        }
    }
}

static int grow(U32Table *table) {
    Py_ssize_t capacity = table->capacity * 2;
    Entry *entries = new_entries(capacity, sizeof(Entry)), *old = table->entries;
    if (entries == NULL) {
        return -1;
    }
    Py_ssize_t old_capacity = table->capacity;
    table->entries = entries;
    table->capacity = capacity;
    for (Py_ssize_t i = 0; i < old_capacity; i++) {
        if (old[i].value != EMPTY) {
            *find(table, old[i].key) = old[i];
        }
    }
    table_free(old);
    return 0;
}

/* The slots of `key` as a new reference, NULL if absent (no error set). */
static PyObject *table_slots(const U32Table *table, uint32_t key) {
    const Entry *entry = find(table, key);
    return entry->value == EMPTY ? NULL : entry_slots(table->shared, entry->value);
}

static PyObject *U32Table_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    if (!PyArg_ParseTuple(args, "") || (kwargs != NULL && PyDict_GET_SIZE(kwargs) > 0)) {
        PyErr_SetString(PyExc_TypeError, "U32Table() takes no arguments");
        return NULL;
    }
    U32Table *table = (U32Table *)type->tp_alloc(type, 0);
    if (table == NULL) {
        return NULL;
    }
    table->capacity = 8;
    table->entries = new_entries(table->capacity, sizeof(Entry));
    table->shared = table->entries == NULL ? NULL : PyList_New(0);
    if (table->shared == NULL) {
        Py_DECREF(table);
        return NULL;
    }
    untrack(table->shared);
    return (PyObject *)table;
}

static void U32Table_dealloc(U32Table *table) {
    table_free(table->entries);
    Py_XDECREF(table->shared);
    Py_TYPE(table)->tp_free((PyObject *)table);
}

static int read_key(PyObject *object, uint32_t *key) {
    unsigned long value = PyLong_AsUnsignedLong(object);
    if (value == (unsigned long)-1 && PyErr_Occurred()) {
        return -1;
    }
    if (value > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a U32Table key is below 2**32");
        return -1;
    }
    *key = (uint32_t)value;
    return 0;
}

static PyObject *U32Table_put(U32Table *table, PyObject *args) {
    PyObject *key_object;
    long slot;
    uint32_t key;
    if (!PyArg_ParseTuple(args, "Ol", &key_object, &slot) || read_key(key_object, &key) < 0) {
        return NULL;
    }
    if (check_slot(slot) < 0) {
        return NULL;
    }
    /* At most three quarters full: a miss then reads about one cache line. */
    if ((table->used + 1) * 4 > table->capacity * 3 && grow(table) < 0) {
        return NULL;
    }
    Entry *entry = find(table, key);
    if (entry->value == EMPTY) {
        entry->key = key;
        entry->value = (int32_t)slot;
        table->used++;
        Py_RETURN_NONE;
    }
    int32_t value = entry->value;
    if (add_shared(table->shared, &value, slot) < 0) {
        return NULL;
    }
    find(table, key)->value = value;
    Py_RETURN_NONE;
}

static PyObject *U32Table_get(U32Table *table, PyObject *key_object) {
    uint32_t key;
    if (!PyLong_Check(key_object)) {
        Py_RETURN_NONE;
    }
    if (read_key(key_object, &key) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return NULL;
        }
        PyErr_Clear(); /* a key no table holds */
        Py_RETURN_NONE;
    }
    PyObject *slots = table_slots(table, key);
    if (slots == NULL) {
        Py_RETURN_NONE;
    }
    return slots;
}

static Py_ssize_t U32Table_len(U32Table *table) { return table->used; }

static PyMethodDef U32Table_methods[] = {
    {"put", (PyCFunction)U32Table_put, METH_VARARGS, "put(key, slot): `slot` holds `key` too"},
    {"get", (PyCFunction)U32Table_get, METH_O, "get(key): the slots holding key, or None"},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods U32Table_as_sequence = {
    .sq_length = (lenfunc)U32Table_len,
};

static PyTypeObject U32TableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shieldwall.match._lookup.U32Table",
    .tp_doc = "uint32 network -> slots: the IPv4 tables of the match index",
    .tp_basicsize = sizeof(U32Table),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = U32Table_new,
    .tp_dealloc = (destructor)U32Table_dealloc,
    .tp_methods = U32Table_methods,
    .tp_as_sequence = &U32Table_as_sequence,
};


/* ------------------------------------------------------------------ StrTable
 *
 * The text tables of the index (domains, URLs, e-mail addresses, file names):
 * str -> slots, open addressing on a 64-bit hash of the text, the text kept
 * once in `keys` and compared only when the hash matches. Why not a dict: a
 * look-up then needs a str object for every name and parent probed (built and
 * hashed), and at 10 M indicators a dict probe costs two or three cache
 * misses; here the text is hashed in a stack buffer and a miss is one line.
 * Keys match only with the same storage kind (as str equality requires: equal
 * bytes in a 1-byte and a 2-byte str are different text).
 */

typedef struct {
    int32_t value; /* as in U32Table; EMPTY when free */
    uint64_t hash;
    PyObject *key; /* the text, owned by `keys`: no list read on a hash match */
} TextEntry;

typedef struct {
    PyObject_HEAD
    TextEntry *entries;
    Py_ssize_t capacity;
    Py_ssize_t used;
    PyObject *keys;   /* list of str, in insertion order */
    PyObject *shared; /* list of lists of slots */
} StrTable;

static PyTypeObject StrTableType;

/* CPython's own keyed hash of the bytes (SipHash-1-3 under the process's hash
 * secret): what `hash(str)` computes, so crafted keys collide here no more than
 * in a dict. */
static uint64_t text_hash(const unsigned char *data, size_t length) {
    return (uint64_t)_Py_HashBytes(data, (Py_ssize_t)length);
}

/* The bytes of a str: its canonical representation, so equal strs have equal bytes. */
static const unsigned char *str_bytes(PyObject *text, size_t *length) {
    *length = (size_t)PyUnicode_GET_LENGTH(text) * PyUnicode_KIND(text);
    return PyUnicode_DATA(text);
}

static TextEntry *text_find(const StrTable *table, uint64_t hash, const unsigned char *data,
                            size_t length, int kind) {
    Py_ssize_t mask = table->capacity - 1;
    for (Py_ssize_t at = (Py_ssize_t)hash & mask;; at = (at + 1) & mask) {
        TextEntry *entry = &table->entries[at];
        if (entry->value == EMPTY) {
            return entry;
        }
        if (entry->hash == hash) {
            size_t held_length;
            const unsigned char *held =
                str_bytes(entry->key, &held_length);
            if (held_length == length && PyUnicode_KIND(entry->key) == kind &&
                memcmp(held, data, length) == 0) {
                return entry;
            }
        }
    }
}

static int text_grow(StrTable *table) {
    Py_ssize_t capacity = table->capacity * 2, old_capacity = table->capacity;
    TextEntry *entries = new_entries(capacity, sizeof(TextEntry)), *old = table->entries;
    if (entries == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < old_capacity; i++) {
        if (old[i].value == EMPTY) {
            continue;
        }
        Py_ssize_t at = (Py_ssize_t)old[i].hash & (capacity - 1);
        while (entries[at].value != EMPTY) {
            at = (at + 1) & (capacity - 1);
        }
        entries[at] = old[i];
    }
    table->entries = entries;
    table->capacity = capacity;
    table_free(old);
    return 0;
}

static PyObject *StrTable_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    if (!PyArg_ParseTuple(args, "") || (kwargs != NULL && PyDict_GET_SIZE(kwargs) > 0)) {
        PyErr_SetString(PyExc_TypeError, "StrTable() takes no arguments");
        return NULL;
    }
    StrTable *table = (StrTable *)type->tp_alloc(type, 0);
    if (table == NULL) {
        return NULL;
    }
    table->capacity = 8;
    table->entries = new_entries(table->capacity, sizeof(TextEntry));
    table->keys = table->entries == NULL ? NULL : PyList_New(0);
    table->shared = table->keys == NULL ? NULL : PyList_New(0);
    if (table->shared == NULL) {
        Py_DECREF(table);
        return NULL;
    }
    untrack(table->keys);
    untrack(table->shared);
    return (PyObject *)table;
}

static void StrTable_dealloc(StrTable *table) {
    table_free(table->entries);
    Py_XDECREF(table->keys);
    Py_XDECREF(table->shared);
    Py_TYPE(table)->tp_free((PyObject *)table);
}

static PyObject *StrTable_put(StrTable *table, PyObject *args) {
    PyObject *key;
    long slot;
    if (!PyArg_ParseTuple(args, "Ul", &key, &slot) || PyUnicode_READY(key) < 0) {
        return NULL;
    }
    if (check_slot(slot) < 0) {
        return NULL;
    }
    if (PyList_GET_SIZE(table->keys) >= INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many keys");
        return NULL;
    }
    if ((table->used + 1) * 4 > table->capacity * 3 && text_grow(table) < 0) {
        return NULL;
    }
    size_t length;
    const unsigned char *data = str_bytes(key, &length);
    uint64_t hash = text_hash(data, length);
    TextEntry *entry = text_find(table, hash, data, length, PyUnicode_KIND(key));
    if (entry->value != EMPTY) {
        int32_t value = entry->value;
        if (add_shared(table->shared, &value, slot) < 0) {
            return NULL;
        }
        text_find(table, hash, data, length, PyUnicode_KIND(key))->value = value;
        Py_RETURN_NONE;
    }
    if (PyList_Append(table->keys, key) < 0) {
        return NULL;
    }
    entry->hash = hash;
    entry->value = (int32_t)slot;
    entry->key = key;
    table->used++;
    Py_RETURN_NONE;
}

static PyObject *StrTable_get(StrTable *table, PyObject *key) {
    if (!PyUnicode_Check(key)) {
        Py_RETURN_NONE;
    }
    if (PyUnicode_READY(key) < 0) {
        return NULL;
    }
    size_t length;
    const unsigned char *data = str_bytes(key, &length);
    TextEntry *entry = text_find(table, text_hash(data, length), data, length, PyUnicode_KIND(key));
    if (entry->value == EMPTY) {
        Py_RETURN_NONE;
    }
    return entry_slots(table->shared, entry->value);
}

static Py_ssize_t StrTable_len(StrTable *table) { return table->used; }

static PyMethodDef StrTable_methods[] = {
    {"put", (PyCFunction)StrTable_put, METH_VARARGS, "put(key, slot): `slot` holds `key` too"},
    {"get", (PyCFunction)StrTable_get, METH_O, "get(key): the slots holding key, or None"},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods StrTable_as_sequence = {
    .sq_length = (lenfunc)StrTable_len,
};

static PyTypeObject StrTableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shieldwall.match._lookup.StrTable",
    .tp_doc = "str -> slots: the text tables of the match index",
    .tp_basicsize = sizeof(StrTable),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = StrTable_new,
    .tp_dealloc = (destructor)StrTable_dealloc,
    .tp_methods = StrTable_methods,
    .tp_as_sequence = &StrTable_as_sequence,
};

/* Appends a hit of `kind` if the table holds the text, whose hash is known; the
 * value is the table's own key. -1 on error. */
static int append_if_held(PyObject *out, Py_ssize_t position, PyObject *kind,
                          const StrTable *table, uint64_t hash, const unsigned char *data,
                          size_t length, int kind_of_data) {
    const TextEntry *entry = text_find(table, hash, data, length, kind_of_data);
    if (entry->value == EMPTY) {
        return 0;
    }
    PyObject *slots = entry_slots(table->shared, entry->value);
    if (slots == NULL) {
        return -1;
    }
    int failed = append_hit(out, position, kind, entry->key, slots);
    Py_DECREF(slots);
    return failed;
}

static int probe_text_kind(PyObject *out, Py_ssize_t position, PyObject *kind, const StrTable *table,
                      const unsigned char *data, size_t length, int kind_of_data) {
    return append_if_held(out, position, kind, table, text_hash(data, length), data, length,
                          kind_of_data);
}

static int probe_text(PyObject *out, Py_ssize_t position, PyObject *kind, const StrTable *table,
                      const unsigned char *data, size_t length) {
    return probe_text_kind(out, position, kind, table, data, length, PyUnicode_1BYTE_KIND);
}

/* Prefetches the str a few values ahead: in a large batch each one is a cache miss. */
static void prefetch_later(PyObject *raws, Py_ssize_t position) {
    if (position + 8 < PyList_GET_SIZE(raws)) {
        PyObject *later = PyList_GET_ITEM(raws, position + 8);
        __builtin_prefetch(later);
        __builtin_prefetch((const char *)later + 64);
    }
}

/* Text longer than this goes to the Python route (no indexed value is as long). */
#define TEXT_BUFFER 4096

/* A queue of text probes, answered a few at a time in three passes.
 *
 * Why: at 10 M indicators a text probe is two dependent cache misses (the
 * table entry, then the key it points at), and one at a time they follow
 * each other. Queued, the first pass hashes every probe and prefetches its
 * bucket, the second finds each candidate entry and prefetches its key, the
 * third compares and appends the hits, in queue order (which is input
 * order: a batch flushes its queue before handing a value to `slow`). The
 * texts live in the queue's own arena; no pass allocates until the third. */
#define QUEUE_PROBES 16
#define QUEUE_ARENA (4 * (TEXT_BUFFER + 1))

typedef struct {
    Py_ssize_t position;
    uint64_t hash;
    size_t offset, length; /* of the text in the arena */
    int candidate; /* an entry of its hash is in the table: compare the key */
} Probe;

typedef struct {
    const StrTable *table;
    PyObject *kind, *out;
    PyObject *held; /* the value being queued (see `queue_hold`) */
    Py_ssize_t count;
    size_t used;
    Probe probes[QUEUE_PROBES];
    unsigned char arena[QUEUE_ARENA];
} ProbeQueue;

/* A new, empty queue (on the heap: the arena is too large for the stack), or NULL. */
static ProbeQueue *queue_new(const StrTable *table, PyObject *kind, PyObject *out) {
    ProbeQueue *queue = PyMem_Malloc(sizeof(ProbeQueue));
    if (queue == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    queue->table = table;
    queue->kind = kind;
    queue->out = out;
    queue->held = NULL;
    queue->count = 0;
    queue->used = 0;
    return queue;
}

/* The first entry at or after the bucket of `hash` holding that hash, or an EMPTY one. */
static const TextEntry *first_candidate(const StrTable *table, uint64_t hash) {
    Py_ssize_t mask = table->capacity - 1;
    for (Py_ssize_t at = (Py_ssize_t)hash & mask;; at = (at + 1) & mask) {
        const TextEntry *entry = &table->entries[at];
        if (entry->value == EMPTY || entry->hash == hash) {
            return entry;
        }
    }
}

static int queue_flush(ProbeQueue *queue) {
    Py_ssize_t count = queue->count;
    queue->count = 0; /* the arena is reclaimed by `queue_room`, between values */
    for (Py_ssize_t i = 0; i < count; i++) {
        Probe *probe = &queue->probes[i];
        /* No entry pointer is kept for the next pass: appending a hit allocates,
         * and code run by a collection may grow the table and free its entries. */
        const TextEntry *entry = first_candidate(queue->table, probe->hash);
        probe->candidate = entry->value != EMPTY;
        if (probe->candidate) {
            __builtin_prefetch(entry->key);
            __builtin_prefetch((const char *)entry->key + 64);
        }
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        const Probe *probe = &queue->probes[i];
        if (!probe->candidate) {
            continue; /* a miss, decided without reading any key */
        }
        if (append_if_held(queue->out, probe->position, queue->kind, queue->table, probe->hash,
                           queue->arena + probe->offset, probe->length,
                           PyUnicode_1BYTE_KIND) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Room for a text of up to TEXT_BUFFER + 1 bytes at the arena's end (flushing
 * first if needed); the caller writes it there and queues its probes. */
static unsigned char *queue_room(ProbeQueue *queue) {
    if (queue->used + TEXT_BUFFER + 1 > QUEUE_ARENA || queue->count == QUEUE_PROBES) {
        if (queue_flush(queue) < 0) {
            return NULL;
        }
        queue->used = 0;
    }
    return queue->arena + queue->used;
}

/* Queues a probe for `length` bytes at `text` (inside the arena). -1 on error. */
static int queue_probe(ProbeQueue *queue, Py_ssize_t position, const unsigned char *text,
                       size_t length) {
    if (queue->count == QUEUE_PROBES && queue_flush(queue) < 0) {
        return -1;
    }
    Probe *probe = &queue->probes[queue->count++];
    probe->position = position;
    probe->offset = (size_t)(text - queue->arena);
    probe->length = length;
    probe->hash = text_hash(text, length);
    const StrTable *table = queue->table;
    __builtin_prefetch(&table->entries[(Py_ssize_t)probe->hash & (table->capacity - 1)]);
    return 0;
}

/* Marks `length` arena bytes at the end as used by queued probes. */
static void queue_keep(ProbeQueue *queue, size_t length) { queue->used += length; }


/* Holds the value being queued: a flush allocates, and code a collection runs
 * may empty `raws` and free it while its text is still being read. */
static void queue_hold(ProbeQueue *queue, PyObject *raw) {
    Py_INCREF(raw);
    Py_XSETREF(queue->held, raw);
}

/* Answers what is still queued and frees the queue: a batch's return value. */
static PyObject *queue_finish(ProbeQueue *queue, int failed) {
    failed = failed || queue_flush(queue) < 0;
    Py_XDECREF(queue->held);
    PyMem_Free(queue);
    if (failed) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* One (prefix, shift, table) entry of a list of CIDR tables. */
typedef struct {
    long prefix;
    int shift;
    PyObject *table;
} Tables;

static int read_tables(PyObject *list, Tables *into, Py_ssize_t room, Py_ssize_t *count,
                       PyTypeObject *table_type, int bits) {
    if (!PyList_Check(list) || PyList_GET_SIZE(list) > room) {
        PyErr_SetString(PyExc_TypeError, "tables: a short list of (prefix, shift, table)");
        return -1;
    }
    *count = PyList_GET_SIZE(list);
    for (Py_ssize_t i = 0; i < *count; i++) {
        PyObject *entry = PyList_GET_ITEM(list, i);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 3 ||
            !Py_IS_TYPE(PyTuple_GET_ITEM(entry, 2), table_type)) {
            PyErr_SetString(PyExc_TypeError, "tables: a short list of (prefix, shift, table)");
            return -1;
        }
        into[i].prefix = PyLong_AsLong(PyTuple_GET_ITEM(entry, 0));
        into[i].shift = (int)PyLong_AsLong(PyTuple_GET_ITEM(entry, 1));
        into[i].table = PyTuple_GET_ITEM(entry, 2);
        if (PyErr_Occurred()) {
            return -1;
        }
        if (into[i].shift < 0 || into[i].shift > bits || into[i].prefix != bits - into[i].shift) {
            PyErr_SetString(PyExc_ValueError, "tables: a shift of 0 to the address width");
            return -1;
        }
    }
    return 0;
}

/* Appends a CIDR hit, its text written as `_ip_text` in index.py writes it
 * (inet_ntop, then the prefix length). */
static int append_cidr(PyObject *out, Py_ssize_t position, int family, const void *address,
                       long prefix, PyObject *slots) {
    char text[INET6_ADDRSTRLEN + 8];
    if (inet_ntop(family, address, text, INET6_ADDRSTRLEN) == NULL) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    size_t length = strlen(text);
    length += (size_t)snprintf(text + length, sizeof text - length, "/%ld", prefix);
    PyObject *value = ascii_str(text, (Py_ssize_t)length);
    if (value == NULL) {
        return -1;
    }
    int failed = append_hit(out, position, KIND_CIDR, value, slots);
    Py_DECREF(value);
    return failed;
}

static int append_cidr4(PyObject *out, Py_ssize_t position, unsigned long long network, int shift,
                        long prefix, PyObject *slots) {
    struct in_addr address;
    address.s_addr = htonl(shift >= 32 ? 0 : (uint32_t)(network << shift));
    return append_cidr(out, position, AF_INET, &address, prefix, slots);
}

static int append_cidr6(PyObject *out, Py_ssize_t position, unsigned __int128 network, int shift,
                        long prefix, PyObject *slots) {
    unsigned __int128 value = shift >= 128 ? 0 : network << shift;
    struct in6_addr address;
    for (int i = 15; i >= 0; i--) {
        address.s6_addr[i] = (unsigned char)(value & 0xff);
        value >>= 8;
    }
    return append_cidr(out, position, AF_INET6, &address, prefix, slots);
}

#define MAX_TABLES 129

/* Appends a hit for each CIDR table holding the network of `number`. */
static int probe_cidrs4(PyObject *out, Py_ssize_t position, uint32_t number, const Tables *tables,
                        Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++) {
        uint32_t network = tables[i].shift >= 32 ? 0 : number >> tables[i].shift;
        PyObject *slots = table_slots((U32Table *)tables[i].table, network);
        if (slots == NULL) {
            if (PyErr_Occurred()) {
                return -1;
            }
            continue;
        }
        int failed = append_cidr4(out, position, network, tables[i].shift, tables[i].prefix, slots);
        Py_DECREF(slots);
        if (failed < 0) {
            return -1;
        }
    }
    return 0;
}

#define AHEAD 8

/* 1 and the address as a number when `raw` is one inet_pton reads, else 0. */
static int parse_ipv4(PyObject *raw, uint32_t *number) {
    char buffer[64];
    const char *text = address_text(raw, buffer, sizeof buffer);
    struct in_addr parsed;
    if (text == NULL || inet_pton(AF_INET, text, &parsed) != 1) {
        return 0;
    }
    *number = ntohl(parsed.s_addr);
    return 1;
}

static void prefetch_ipv4(int is_address, uint32_t number, PyObject *exact,
                          const unsigned char *flags, const Tables *narrow, Py_ssize_t count) {
    if (!is_address) {
        return;
    }
    if (exact != Py_None) {
        const U32Table *table = (const U32Table *)exact;
        __builtin_prefetch(&table->entries[bucket(number, table->capacity)]);
    }
    if (count && flags[number >> 16]) {
        for (Py_ssize_t i = 0; i < count; i++) {
            const U32Table *table = (const U32Table *)narrow[i].table;
            uint32_t network = narrow[i].shift >= 32 ? 0 : number >> narrow[i].shift;
            __builtin_prefetch(&table->entries[bucket(network, table->capacity)]);
        }
    }
}

/* Reads value `at` into its ring slot: held, parsed, its buckets prefetched. */
static void read_ahead_ipv4(PyObject *raws, Py_ssize_t at, PyObject **held, int *parsed,
                            uint32_t *numbers, PyObject *exact, const unsigned char *flags,
                            const Tables *narrow, Py_ssize_t narrow_count) {
    int ring = (int)(at % AHEAD);
    held[ring] = PyList_GET_ITEM(raws, at);
    Py_INCREF(held[ring]);
    parsed[ring] = parse_ipv4(held[ring], &numbers[ring]);
    prefetch_ipv4(parsed[ring], numbers[ring], exact, flags, narrow, narrow_count);
}

/* The hits of one value: the address itself, then the CIDRs holding it. -1 on error. */
static int probe_ipv4(PyObject *out, Py_ssize_t position, PyObject *raw, int is_address,
                      uint32_t number, PyObject *exact, const unsigned char *flags,
                      const Tables *narrow, Py_ssize_t narrow_count, const Tables *wide,
                      Py_ssize_t wide_count, PyObject *slow) {
    if (!is_address) {
        return call_slow(slow, position, raw, out);
    }
    if (exact != Py_None) {
        PyObject *slots = table_slots((U32Table *)exact, number);
        int failed = slots != NULL && append_hit(out, position, KIND_IPV4, raw, slots) < 0;
        Py_XDECREF(slots);
        if (failed || PyErr_Occurred()) {
            return -1;
        }
    }
    if (narrow_count && flags[number >> 16] &&
        probe_cidrs4(out, position, number, narrow, narrow_count) < 0) {
        return -1;
    }
    return probe_cidrs4(out, position, number, wide, wide_count);
}

static PyObject *ipv4_many(PyObject *module, PyObject *args) {
    PyObject *raws, *out, *exact, *flagged, *narrow_list, *wide_list, *slow;
    if (!PyArg_ParseTuple(args, "O!O!OYO!O!O", &PyList_Type, &raws, &PyList_Type, &out, &exact,
                          &flagged, &PyList_Type, &narrow_list, &PyList_Type, &wide_list, &slow)) {
        return NULL;
    }
    if (exact != Py_None && !Py_IS_TYPE(exact, &U32TableType)) {
        PyErr_SetString(PyExc_TypeError, "exact: a U32Table or None");
        return NULL;
    }
    if (PyByteArray_GET_SIZE(flagged) != 1 << 16) {
        PyErr_SetString(PyExc_ValueError, "flagged: one byte per /16");
        return NULL;
    }
    Tables narrow[MAX_TABLES], wide[MAX_TABLES];
    Py_ssize_t narrow_count, wide_count;
    if (read_tables(narrow_list, narrow, MAX_TABLES, &narrow_count, &U32TableType, 32) < 0 ||
        read_tables(wide_list, wide, MAX_TABLES, &wide_count, &U32TableType, 32) < 0) {
        return NULL;
    }
    const unsigned char *flags = (const unsigned char *)PyByteArray_AS_STRING(flagged);
    /* Addresses are parsed AHEAD values early and their buckets prefetched:
     * at 10 M indicators each probe is a cache miss, and the misses of
     * several values then overlap instead of following each other. */
    uint32_t numbers[AHEAD];
    int parsed[AHEAD];
    /* The values read ahead, held (strong references): the hit must name the
     * value that was parsed, whatever code run meanwhile does to `raws`. */
    PyObject *held[AHEAD] = {NULL};
    Py_ssize_t read = 0; /* the values read ahead so far */
    while (read < AHEAD && read < PyList_GET_SIZE(raws)) {
        read_ahead_ipv4(raws, read++, held, parsed, numbers, exact, flags, narrow, narrow_count);
    }
    int failed = 0;
    for (Py_ssize_t position = 0; !failed && position < read; position++) {
        int ring = (int)(position % AHEAD);
        PyObject *raw = held[ring];
        held[ring] = NULL;
        int is_address = parsed[ring];
        uint32_t number = numbers[ring];
        if (read + AHEAD < PyList_GET_SIZE(raws)) {
            /* The str objects themselves are cache misses too in a large batch. */
            PyObject *later = PyList_GET_ITEM(raws, read + AHEAD);
            __builtin_prefetch(later);
            __builtin_prefetch((const char *)later + 64);
        }
        if (read < PyList_GET_SIZE(raws)) { /* into the ring slot just taken */
            read_ahead_ipv4(raws, read++, held, parsed, numbers, exact, flags, narrow, narrow_count);
        }
        failed = probe_ipv4(out, position, raw, is_address, number, exact, flags, narrow,
                            narrow_count, wide, wide_count, slow) < 0;
        Py_DECREF(raw);
    }
    for (int i = 0; i < AHEAD; i++) {
        Py_XDECREF(held[i]);
    }
    if (failed) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *ipv6_many(PyObject *module, PyObject *args) {
    PyObject *raws, *out, *table_list, *slow;
    if (!PyArg_ParseTuple(args, "O!O!O!O", &PyList_Type, &raws, &PyList_Type, &out, &PyList_Type,
                          &table_list, &slow)) {
        return NULL;
    }
    Tables tables[MAX_TABLES];
    Py_ssize_t count;
    if (read_tables(table_list, tables, MAX_TABLES, &count, &PyDict_Type, 128) < 0) {
        return NULL;
    }
    char buffer[64];
    for (Py_ssize_t position = 0; position < PyList_GET_SIZE(raws); position++) {
        PyObject *raw = PyList_GET_ITEM(raws, position);
        prefetch_later(raws, position);
        const char *text = address_text(raw, buffer, sizeof buffer);
        struct in6_addr parsed;
        if (text == NULL || inet_pton(AF_INET6, text, &parsed) != 1) {
            if (call_slow(slow, position, raw, out) < 0) {
                return NULL;
            }
            continue;
        }
        unsigned __int128 number = 0;
        for (int i = 0; i < 16; i++) {
            number = number << 8 | parsed.s6_addr[i];
        }
        for (Py_ssize_t i = 0; i < count; i++) {
            unsigned __int128 network = tables[i].shift >= 128 ? 0 : number >> tables[i].shift;
            PyObject *slots = probe_int128(tables[i].table, network);
            if (slots == NULL) {
                if (PyErr_Occurred()) {
                    return NULL;
                }
                continue;
            }
            if (tables[i].shift) {
                int failed = append_cidr6(out, position, network, tables[i].shift, tables[i].prefix, slots);
                Py_DECREF(slots);
                if (failed < 0) {
                    return NULL;
                }
                continue;
            }
            /* The address in its canonical text, as socket.inet_ntop writes it. */
            char canonical[INET6_ADDRSTRLEN];
            PyObject *value = NULL;
            if (inet_ntop(AF_INET6, &parsed, canonical, sizeof canonical) == NULL) {
                PyErr_SetFromErrno(PyExc_OSError);
            } else {
                value = ascii_str(canonical, (Py_ssize_t)strlen(canonical));
            }
            if (value == NULL) {
                Py_DECREF(slots);
                return NULL;
            }
            int failed = append_hit(out, position, KIND_IPV6, value, slots);
            Py_DECREF(slots);
            Py_DECREF(value);
            if (failed < 0) {
                return NULL;
            }
        }
    }
    Py_RETURN_NONE;
}

/* An ASCII str stripped of white space, or NULL with length -1 for any other value. */
static const unsigned char *stripped_ascii(PyObject *raw, Py_ssize_t *length) {
    *length = -1;
    if (!PyUnicode_Check(raw) || !PyUnicode_IS_ASCII(raw)) {
        return NULL;
    }
    const unsigned char *data = PyUnicode_1BYTE_DATA(raw);
    Py_ssize_t start = 0, end = PyUnicode_GET_LENGTH(raw);
    while (start < end && is_py_space(data[start])) {
        start++;
    }
    while (end > start && is_py_space(data[end - 1])) {
        end--;
    }
    *length = end - start;
    return data + start;
}

/* `slow` for one value, after the queued probes of the values before it. */
static int queue_slow(ProbeQueue *queue, PyObject *slow, Py_ssize_t position, PyObject *raw) {
    if (queue_flush(queue) < 0) {
        return -1;
    }
    return call_slow(slow, position, raw, queue->out);
}

static PyObject *domain_many(PyObject *module, PyObject *args) {
    PyObject *raws, *out, *table_object, *slow;
    Py_ssize_t fewest_dots;
    if (!PyArg_ParseTuple(args, "O!O!O!nO", &PyList_Type, &raws, &PyList_Type, &out, &StrTableType,
                          &table_object, &fewest_dots, &slow)) {
        return NULL;
    }
    if (fewest_dots < 0) {
        PyErr_SetString(PyExc_ValueError, "fewest_dots is 0 or more");
        return NULL;
    }
    ProbeQueue *queue = queue_new((const StrTable *)table_object, KIND_DOMAIN, out);
    if (queue == NULL) {
        return NULL;
    }
    int failed = 0;
    for (Py_ssize_t position = 0; !failed && position < PyList_GET_SIZE(raws); position++) {
        PyObject *raw = PyList_GET_ITEM(raws, position);
        queue_hold(queue, raw);
        prefetch_later(raws, position);
        Py_ssize_t length;
        const unsigned char *data = stripped_ascii(raw, &length);
        if (data == NULL || length > TEXT_BUFFER) {
            failed = queue_slow(queue, slow, position, raw) < 0;
            continue;
        }
        while (length > 0 && data[length - 1] == '.') {
            length--;
        }
        unsigned char *name = length == 0 ? NULL : queue_room(queue);
        if (name == NULL) {
            failed = length != 0;
            continue;
        }
        Py_ssize_t dots = 0;
        for (Py_ssize_t i = 0; i < length; i++) {
            unsigned char c = data[i];
            name[i] = (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
            dots += c == '.';
        }
        queue_keep(queue, (size_t)length);
        failed = queue_probe(queue, position, name, (size_t)length) < 0;
        /* Parents with fewer dots than any indexed name are not looked up. */
        Py_ssize_t dot = -1;
        while (!failed && dots > fewest_dots) {
            dots--;
            const unsigned char *next = memchr(name + dot + 1, '.', (size_t)(length - dot - 1));
            dot = next - name;
            failed = queue_probe(queue, position, name + dot + 1, (size_t)(length - dot - 1)) < 0;
        }
    }
    return queue_finish(queue, failed);
}

static int hex_digit(unsigned char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Hashes are keyed by their lower-case hex text in a StrTable. */
static PyObject *hash_many(PyObject *module, PyObject *args) {
    PyObject *raws, *out, *table_object, *kind, *slow;
    if (!PyArg_ParseTuple(args, "O!O!O!UO", &PyList_Type, &raws, &PyList_Type, &out, &StrTableType,
                          &table_object, &kind, &slow)) {
        return NULL;
    }
    ProbeQueue *queue = queue_new((const StrTable *)table_object, kind, out);
    if (queue == NULL) {
        return NULL;
    }
    int failed = 0;
    for (Py_ssize_t position = 0; !failed && position < PyList_GET_SIZE(raws); position++) {
        PyObject *raw = PyList_GET_ITEM(raws, position);
        queue_hold(queue, raw);
        prefetch_later(raws, position);
        Py_ssize_t length = -1;
        const unsigned char *data = NULL;
        if (PyUnicode_Check(raw) && PyUnicode_IS_ASCII(raw)) {
            data = PyUnicode_1BYTE_DATA(raw);
            length = PyUnicode_GET_LENGTH(raw);
        }
        int plain = data != NULL && length % 2 == 0 && length <= 128;
        unsigned char *lowered = plain ? queue_room(queue) : NULL;
        if (plain && lowered == NULL) {
            failed = 1;
            continue;
        }
        for (Py_ssize_t i = 0; plain && i < length; i++) {
            if (hex_digit(data[i]) < 0) {
                plain = 0;
            }
            lowered[i] = (data[i] >= 'A' && data[i] <= 'F') ? (unsigned char)(data[i] + 32) : data[i];
        }
        if (!plain) { /* white space, odd length, not hex: bytes.fromhex decides */
            failed = queue_slow(queue, slow, position, raw) < 0;
            continue;
        }
        queue_keep(queue, (size_t)length);
        failed = queue_probe(queue, position, lowered, (size_t)length) < 0;
    }
    return queue_finish(queue, failed);
}

static PyObject *exact_many(PyObject *module, PyObject *args) {
    PyObject *raws, *out, *table_object, *kind;
    if (!PyArg_ParseTuple(args, "O!O!O!U", &PyList_Type, &raws, &PyList_Type, &out, &StrTableType,
                          &table_object, &kind)) {
        return NULL;
    }
    const StrTable *table = (const StrTable *)table_object;
    for (Py_ssize_t position = 0; position < PyList_GET_SIZE(raws); position++) {
        PyObject *raw = PyList_GET_ITEM(raws, position);
        prefetch_later(raws, position);
        if (!PyUnicode_Check(raw)) {
            continue; /* no table holds it, as a dict would say */
        }
        if (PyUnicode_READY(raw) < 0) {
            return NULL;
        }
        size_t length;
        const unsigned char *data = str_bytes(raw, &length);
        if (probe_text_kind(out, position, kind, table, data, length, PyUnicode_KIND(raw)) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *email_many(PyObject *module, PyObject *args) {
    PyObject *raws, *out, *table_object, *kind, *slow;
    if (!PyArg_ParseTuple(args, "O!O!O!UO", &PyList_Type, &raws, &PyList_Type, &out, &StrTableType,
                          &table_object, &kind, &slow)) {
        return NULL;
    }
    const StrTable *table = (const StrTable *)table_object;
    unsigned char lowered[TEXT_BUFFER];
    for (Py_ssize_t position = 0; position < PyList_GET_SIZE(raws); position++) {
        PyObject *raw = PyList_GET_ITEM(raws, position);
        prefetch_later(raws, position);
        Py_ssize_t length;
        const unsigned char *data = stripped_ascii(raw, &length);
        if (data == NULL || length > TEXT_BUFFER) {
            if (call_slow(slow, position, raw, out) < 0) {
                return NULL;
            }
            continue;
        }
        for (Py_ssize_t i = 0; i < length; i++) {
            unsigned char c = data[i];
            lowered[i] = (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
        }
        if (probe_text(out, position, kind, table, lowered, (size_t)length) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* Characters no part of a plain URL holds: controls, space, DEL. */
static int is_url_control(unsigned char c) { return c <= 0x20 || c == 0x7f; }

static int is_scheme_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '.' || c == '-';
}

/* Writes the normal form of a plain ASCII URL (see `_SIMPLE_URL` in index.py)
 * into `into` (room for length + 1 bytes) and returns its length, or -1 for a
 * URL the Python route must normalise. */
static Py_ssize_t plain_url(const unsigned char *data, Py_ssize_t length, unsigned char *into) {
    for (Py_ssize_t i = 0; i < length; i++) {
        if (is_url_control(data[i])) {
            return -1;
        }
    }
    if (length == 0 || !((data[0] | 0x20) >= 'a' && (data[0] | 0x20) <= 'z')) {
        return -1;
    }
    Py_ssize_t at = 1;
    while (at < length && is_scheme_char(data[at])) {
        at++;
    }
    Py_ssize_t scheme_end = at;
    if (length - at < 3 || memcmp(data + at, "://", 3) != 0) {
        return -1;
    }
    at += 3;
    Py_ssize_t host_start = at;
    while (at < length && data[at] != '/' && data[at] != '?' && data[at] != '#') {
        unsigned char c = data[at];
        if (c == '@' || c == '[' || c == ']' || c == '\\') {
            return -1;
        }
        at++;
    }
    Py_ssize_t host_end = at;
    if (host_end == host_start) {
        return -1;
    }
    Py_ssize_t path_start = at;
    while (at < length && data[at] != '?' && data[at] != '#') {
        at++;
    }
    Py_ssize_t path_end = at, query_start = at, query_end = at;
    if (at < length && data[at] == '?') {
        query_start = at + 1;
        while (at < length && data[at] != '#') {
            at++;
        }
        query_end = at;
    }
    /* What follows is a fragment (anything but controls), dropped. */
    Py_ssize_t written = 0;
    for (Py_ssize_t i = 0; i < scheme_end; i++) {
        unsigned char c = data[i];
        into[written++] = (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
    }
    memcpy(into + written, "://", 3);
    written += 3;
    for (Py_ssize_t i = host_start; i < host_end; i++) {
        unsigned char c = data[i];
        into[written++] = (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
    }
    if (path_end > path_start) {
        memcpy(into + written, data + path_start, (size_t)(path_end - path_start));
        written += path_end - path_start;
    } else {
        into[written++] = '/';
    }
    if (query_end > query_start) {
        into[written++] = '?';
        memcpy(into + written, data + query_start, (size_t)(query_end - query_start));
        written += query_end - query_start;
    }
    return written;
}

static PyObject *url_many(PyObject *module, PyObject *args) {
    PyObject *raws, *out, *table_object, *kind, *slow;
    Py_ssize_t max_length;
    if (!PyArg_ParseTuple(args, "O!O!O!UnO", &PyList_Type, &raws, &PyList_Type, &out, &StrTableType,
                          &table_object, &kind, &max_length, &slow)) {
        return NULL;
    }
    ProbeQueue *queue = queue_new((const StrTable *)table_object, kind, out);
    if (queue == NULL) {
        return NULL;
    }
    int failed = 0;
    for (Py_ssize_t position = 0; !failed && position < PyList_GET_SIZE(raws); position++) {
        PyObject *raw = PyList_GET_ITEM(raws, position);
        queue_hold(queue, raw);
        prefetch_later(raws, position);
        Py_ssize_t written = -1;
        unsigned char *canonical = NULL;
        if (PyUnicode_Check(raw) && PyUnicode_IS_ASCII(raw) &&
            PyUnicode_GET_LENGTH(raw) <= max_length && PyUnicode_GET_LENGTH(raw) <= TEXT_BUFFER) {
            canonical = queue_room(queue); /* room for length + 1 bytes, as plain_url needs */
            if (canonical == NULL) {
                failed = 1;
                continue;
            }
            written = plain_url(PyUnicode_1BYTE_DATA(raw), PyUnicode_GET_LENGTH(raw), canonical);
        }
        if (written < 0) {
            failed = queue_slow(queue, slow, position, raw) < 0;
            continue;
        }
        queue_keep(queue, (size_t)written);
        failed = queue_probe(queue, position, canonical, (size_t)written) < 0;
    }
    return queue_finish(queue, failed);
}


/* `View._filter` of index.py: the hits whose slots the view may read, each
 * list of slots narrowed to those; a hit held by one slot is kept as is.
 *
 * Two phases. The first reads every slot number and its verdict into C
 * memory while holding raw pointers into `marking_of` and `readable`, and
 * allocates no Python object: an allocation may run a collection, a
 * finalizer may let another thread append to those arrays (moving them) or
 * to a shared list of slots. The second builds the answer from the copies. */
static PyObject *visible_hits(PyObject *module, PyObject *args) {
    PyObject *found, *readable_object;
    Py_buffer markings_buffer;
    if (!PyArg_ParseTuple(args, "O!y*Y", &PyList_Type, &found, &markings_buffer,
                          &readable_object)) {
        return NULL;
    }
    Py_ssize_t hits = PyList_GET_SIZE(found), total = 0;
    for (Py_ssize_t i = 0; i < hits; i++) {
        PyObject *hit = PyList_GET_ITEM(found, i);
        PyObject *held = PyTuple_Check(hit) && PyTuple_GET_SIZE(hit) == 4 ? PyTuple_GET_ITEM(hit, 3)
                                                                           : NULL;
        if (held == NULL || !(PyLong_Check(held) || PyList_Check(held))) {
            PyBuffer_Release(&markings_buffer);
            PyErr_SetString(PyExc_TypeError, "a hit is (position, kind, value, int or list of ints)");
            return NULL;
        }
        total += PyLong_Check(held) ? 1 : PyList_GET_SIZE(held);
    }
    /* Per hit: how many slots phase one read; then per slot its number and verdict. */
    Py_ssize_t *counts = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(hits + total + 1));
    char *verdicts = PyMem_Malloc((size_t)total + 1);
    if (counts == NULL || verdicts == NULL) {
        PyMem_Free(counts);
        PyMem_Free(verdicts);
        PyBuffer_Release(&markings_buffer);
        return PyErr_NoMemory();
    }
    Py_ssize_t *numbers = counts + hits;
    const unsigned short *marking_of = markings_buffer.buf;
    Py_ssize_t slots = markings_buffer.len / (Py_ssize_t)sizeof(unsigned short);
    const char *readable = PyByteArray_AS_STRING(readable_object);
    Py_ssize_t markings = PyByteArray_GET_SIZE(readable_object);
    Py_ssize_t at = 0;
    int failed = 0;
    for (Py_ssize_t i = 0; i < hits && !failed; i++) {
        PyObject *held = PyTuple_GET_ITEM(PyList_GET_ITEM(found, i), 3);
        Py_ssize_t count = PyLong_Check(held) ? 1 : PyList_GET_SIZE(held);
        counts[i] = count;
        for (Py_ssize_t j = 0; j < count; j++, at++) {
            PyObject *slot_object = PyLong_Check(held) ? held : PyList_GET_ITEM(held, j);
            Py_ssize_t slot = PyLong_AsSsize_t(slot_object);
            if (slot == -1 && PyErr_Occurred()) {
                failed = 1;
                break;
            }
            if (slot < 0 || slot >= slots) {
                PyErr_SetString(PyExc_IndexError, "a slot the view does not know yet");
                failed = 1;
                break;
            }
            numbers[at] = slot;
        }
    }
    /* The markings of random slots are cache misses at 10 M indicators: the
     * slot numbers are read first, and each marking is prefetched a few slots
     * ahead of its read so that the misses overlap. */
    for (Py_ssize_t k = 0; !failed && k < total; k++) {
        if (k + 16 < total) {
            __builtin_prefetch(&marking_of[numbers[k + 16]]);
        }
        unsigned short marking = marking_of[numbers[k]];
        if (marking >= markings) {
            PyErr_SetString(PyExc_IndexError, "a marking the view does not know yet");
            failed = 1;
            break;
        }
        verdicts[k] = readable[marking] != 0;
    }
    PyBuffer_Release(&markings_buffer);
    PyObject *seen = failed ? NULL : PyList_New(0);
    at = 0;
    for (Py_ssize_t i = 0; seen != NULL && i < hits; i++) {
        PyObject *hit = PyList_GET_ITEM(found, i);
        if (PyLong_Check(PyTuple_GET_ITEM(hit, 3))) {
            if (verdicts[at++] && PyList_Append(seen, hit) < 0) {
                Py_CLEAR(seen);
            }
            continue;
        }
        PyObject *shown = PyList_New(0);
        for (Py_ssize_t j = 0; shown != NULL && j < counts[i]; j++, at++) {
            if (!verdicts[at]) {
                continue;
            }
            PyObject *number = PyLong_FromSsize_t(numbers[at]);
            if (number == NULL || PyList_Append(shown, number) < 0) {
                Py_CLEAR(shown);
            }
            Py_XDECREF(number);
        }
        if (shown == NULL) {
            Py_CLEAR(seen);
            break;
        }
        if (PyList_GET_SIZE(shown) > 0) {
            PyObject *narrowed = PyTuple_Pack(4, PyTuple_GET_ITEM(hit, 0), PyTuple_GET_ITEM(hit, 1),
                                              PyTuple_GET_ITEM(hit, 2), shown);
            if (narrowed == NULL || PyList_Append(seen, narrowed) < 0) {
                Py_CLEAR(seen);
            }
            Py_XDECREF(narrowed);
        }
        Py_DECREF(shown);
    }
    PyMem_Free(counts);
    PyMem_Free(verdicts);
    return seen;
}

/* Runs a batch with the cyclic collector paused.
 *
 * Why: a batch allocates one tuple per hit, none of them part of a cycle, and
 * those allocations trigger collections that walk the caller's (often large)
 * lists of values again and again. perf at 10 M indicators: 28% of look-up time
 * was in the collector (visit_decref, visit_reachable). The batch holds the GIL
 * throughout, except in `call_slow`, which turns collections back on while
 * Python code runs, so no other thread ever runs with them paused; the
 * allocations still count, and the collector runs when the batch returns. */
static PyObject *without_gc(PyCFunction batch, PyObject *module, PyObject *args) {
    int outer = gc_paused_here;
    gc_paused_here = PyGC_Disable();
    PyObject *result = batch(module, args);
    if (gc_paused_here) {
        PyGC_Enable();
    }
    gc_paused_here = outer;
    return result;
}

#define WITHOUT_GC(name)                                              \
    static PyObject *name##_paused(PyObject *module, PyObject *args) { \
        return without_gc(name, module, args);                        \
    }
WITHOUT_GC(ipv4_many)
WITHOUT_GC(ipv6_many)
WITHOUT_GC(domain_many)
WITHOUT_GC(hash_many)
WITHOUT_GC(exact_many)
WITHOUT_GC(email_many)
WITHOUT_GC(url_many)
WITHOUT_GC(visible_hits)

static PyMethodDef methods[] = {
    {"ipv4_many", ipv4_many_paused, METH_VARARGS,
     "ipv4_many(raws, out, exact, flagged, narrow, wide, slow)"},
    {"ipv6_many", ipv6_many_paused, METH_VARARGS, "ipv6_many(raws, out, tables, slow)"},
    {"domain_many", domain_many_paused, METH_VARARGS, "domain_many(raws, out, table, fewest_dots, slow)"},
    {"hash_many", hash_many_paused, METH_VARARGS, "hash_many(raws, out, table, kind, slow)"},
    {"exact_many", exact_many_paused, METH_VARARGS, "exact_many(raws, out, table, kind)"},
    {"email_many", email_many_paused, METH_VARARGS, "email_many(raws, out, table, kind, slow)"},
    {"url_many", url_many_paused, METH_VARARGS, "url_many(raws, out, table, kind, max_length, slow)"},
    {"visible_hits", visible_hits_paused, METH_VARARGS, "visible_hits(found, marking_of, readable)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_lookup", "Batch look-ups of the match index, in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__lookup(void) {
    KIND_IPV4 = PyUnicode_InternFromString("ipv4");
    KIND_IPV6 = PyUnicode_InternFromString("ipv6");
    KIND_CIDR = PyUnicode_InternFromString("cidr");
    KIND_DOMAIN = PyUnicode_InternFromString("domain");
    if (!KIND_IPV4 || !KIND_IPV6 || !KIND_CIDR || !KIND_DOMAIN) {
        return NULL;
    }
    if (PyType_Ready(&U32TableType) < 0 || PyType_Ready(&StrTableType) < 0) {
        return NULL;
    }
    if (getentropy(&table_seed, sizeof table_seed) != 0) {
        table_seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&table_seed;
    }
    PyObject *created = PyModule_Create(&module);
    if (created == NULL) {
        return NULL;
    }
    Py_INCREF(&U32TableType);
    if (PyModule_AddObject(created, "U32Table", (PyObject *)&U32TableType) < 0) {
        Py_DECREF(&U32TableType);
        Py_DECREF(created);
        return NULL;
    }
    Py_INCREF(&StrTableType);
    if (PyModule_AddObject(created, "StrTable", (PyObject *)&StrTableType) < 0) {
        Py_DECREF(&StrTableType);
        Py_DECREF(created);
        return NULL;
    }
    return created;
}
