"""Tables of detection: correlation keys and the sighting index.

`correlation_keys` holds, for each address, domain and URL observable, a
key whose byte order is the order of containment, so that "every address
in this CIDR" and "every name under this domain" are range scans:

* `4:` / `6:` and the address as fixed-width hex (IPv4 and IPv6);
* `d:` and the domain's labels reversed, dot-terminated (`d:com.example.www.`);
* `u:` and the same for the host of a URL.

Equal values need no key: `observables.value` is indexed already.

`sighting_refs` is what a sighting says, pulled out of its STIX JSON at
ingest: which object it sights, how often and until when.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from shieldwall.db.base import metadata

#: Byte order on PostgreSQL too (a locale collation would break the ranges).
KeyText = Text().with_variant(Text(collation="C"), "postgresql")

correlation_keys = Table(
    "correlation_keys",
    metadata,
    Column("key", KeyText, primary_key=True),
    Column(
        "object_pk",
        BigInteger,
        ForeignKey("stix_objects.pk", ondelete="CASCADE"),
        primary_key=True,
    ),
    sqlite_with_rowid=False,
)

sighting_refs = Table(
    "sighting_refs",
    metadata,
    Column(
        "object_pk",
        BigInteger,
        ForeignKey("stix_objects.pk", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("sighting_of_ref", String(300), nullable=False),
    Column("count", Integer, nullable=False),
    # A STIX timestamp key (see intel.stix.timestamp_key): string order is time order.
    Column("last_seen", String(32), nullable=False),
    Index("ix_sighting_refs_sighting_of_ref", "sighting_of_ref"),
)
