"""csv_rows.write joins plain rows itself: the bytes must be what csv.writer writes."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from shieldwall.formats.export import csv_rows
from shieldwall.formats.export.common import TLP_SLUG

ADDED = datetime(2024, 5, 1, 12, 0, 0, 12, tzinfo=UTC)
ROWS = [
    ("1.2.3.4", "ipv4", "indicator--a", "indicator", "CERT-EE", 1, 80, "2024-01-01", None, ADDED),
    ("a,b.example", "domain", "indicator--b", "indicator", 'Org "X"', 2, None, None, "m", ADDED),
    ("http://x/\r\ny", "url", "indicator--c", "indicator", "Org, Ltd", 3, 0, "", "", None),
    ("line\nbreak", "filename", "file--d", "file", "O", 0, 100, "c", "m", ADDED),
    (
        "plain",
        "domain",
        "domain-name--e",
        "domain-name",
        "O",
        1,
        5,
        "c",
        "m",
        datetime(2024, 5, 1, tzinfo=UTC),
    ),
]


def _expected(rows: list[tuple[object, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_rows.HEADER)
    for value, kind, stix_id, stix_type, owner, tlp, confidence, created, modified, added in rows:
        assert isinstance(tlp, int)
        writer.writerow(
            (
                value,
                kind,
                stix_id,
                stix_type,
                owner,
                TLP_SLUG[tlp],
                "" if confidence is None else confidence,
                created or "",
                modified or "",
                added.isoformat() if isinstance(added, datetime) else "",
            )
        )
    return buffer.getvalue().encode()


def test_same_bytes_as_csv_writer() -> None:
    written = b"".join(csv_rows.write([ROWS[:2], [], ROWS[2:]]))
    assert written == _expected(list(ROWS))
    parsed = list(csv.reader(io.StringIO(written.decode())))
    assert [row[0] for row in parsed[1:]] == [row[0] for row in ROWS]


_fields = st.text(alphabet=st.sampled_from('ab,"\r\n1'), max_size=4)
_rows = st.lists(
    st.tuples(
        _fields,
        st.just("domain"),
        _fields,
        st.just("indicator"),
        _fields,
        st.sampled_from(sorted(TLP_SLUG)),
        st.none() | st.integers(0, 100),
        st.none() | _fields,
        st.none() | _fields,
        st.none() | st.just(ADDED),
    ),
    max_size=8,
)


@given(chunks=st.lists(_rows, max_size=4))
def test_same_bytes_as_csv_writer_whatever_the_fields(
    chunks: list[list[tuple[object, ...]]],
) -> None:
    """Chunks are checked for quoting as a whole: a plain chunk, a mixed one, any split."""
    written = b"".join(csv_rows.write(chunks))
    assert written == _expected([row for chunk in chunks for row in chunk])
