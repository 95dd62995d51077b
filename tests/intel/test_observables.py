"""Observable normalisation: the example-in/example-out table of every kind.

Correlation and search match on the normalised value, so two spellings of
one address, domain or hash that normalise differently are two values that
never meet.
"""

from __future__ import annotations

import pytest

from shieldwall.intel.observables import MAX_VALUE_LENGTH, detect, from_sco, normalise

MD5 = "9E107D9D372BB6826BD81D3542A419D6"
SHA1 = "2FD4E1C67A2D28FCED849EE1BB76E7391B93EB12"
SHA256 = "D7A8FBB307D7809469CA9ABCB0082E4F8D5651E46D3CDB762D02D0BF37C9E592"
SHA512 = "07E547D9586F6A73F73FBAC0435ED76951218FB7D0C8D788A309D785436BBB64" * 2

NORMALISED = [
    # IPv4, and CIDR written as an address value (a /32 is the address itself)
    ("ipv4", "198.51.100.7", ("ipv4", "198.51.100.7")),
    ("ipv4", " 198.51.100.7\n", ("ipv4", "198.51.100.7")),
    ("ipv4", "198.51.100.0/24", ("cidr", "198.51.100.0/24")),
    ("ipv4", "198.51.100.7/24", ("cidr", "198.51.100.0/24")),
    ("ipv4", "198.51.100.7/32", ("ipv4", "198.51.100.7")),
    ("ipv4", "223.166.0.0/15", ("cidr", "223.166.0.0/15")),
    ("ipv4", "999.1.2.3", None),
    ("ipv4", "198.51.100", None),
    ("ipv4", "2001:db8::1", None),
    ("ipv4", "198.51.100.0/33", None),
    # IPv6: compressed, lower case
    ("ipv6", "2001:DB8:0:0:0:0:0:1", ("ipv6", "2001:db8::1")),
    ("ipv6", "2001:db8::/32", ("cidr", "2001:db8::/32")),
    ("ipv6", "2001:db8::1/128", ("ipv6", "2001:db8::1")),
    ("ipv6", "198.51.100.7", None),
    ("ipv6", "2001:db8::g", None),
    # CIDR given as such
    ("cidr", "10.0.0.0/8", ("cidr", "10.0.0.0/8")),
    ("cidr", "10.1.2.3/32", ("ipv4", "10.1.2.3")),
    ("cidr", "2001:db8:1::/48", ("cidr", "2001:db8:1::/48")),
    # domains: case, trailing dot, IDN
    ("domain", "Example.COM", ("domain", "example.com")),
    ("domain", "www.example.com.", ("domain", "www.example.com")),
    ("domain", "bücher.example", ("domain", "xn--bcher-kva.example")),
    ("domain", "_dmarc.example.org", ("domain", "_dmarc.example.org")),
    ("domain", "localhost", None),
    ("domain", "domain autuo.xicp.net", None),
    ("domain", "-bad-.example", None),
    # URLs: scheme and host case-insensitive, path and query not; no fragment
    (
        "url",
        "HTTP://Example.COM/Path/File.php?Id=7",
        ("url", "http://example.com/Path/File.php?Id=7"),
    ),
    ("url", "https://example.com", ("url", "https://example.com/")),
    ("url", "https://example.com/a#section", ("url", "https://example.com/a")),
    ("url", "example.com/path", None),
    ("url", "not a url", None),
    # e-mail
    ("email", "Alice@Example.COM", ("email", "alice@example.com")),
    ("email", " bob@example.org ", ("email", "bob@example.org")),
    ("email", "no-at-sign.example.org", None),
    ("email", "two@@example.org", None),
    # hashes: lower case, exact length, hex only
    ("md5", MD5, ("md5", MD5.lower())),
    ("sha1", SHA1, ("sha1", SHA1.lower())),
    ("sha256", SHA256, ("sha256", SHA256.lower())),
    ("sha512", SHA512, ("sha512", SHA512.lower())),
    ("md5", MD5[:-1], None),
    ("sha256", SHA1, None),
    ("sha1", "z" * 40, None),
    # file names are kept as written
    ("filename", "Invoice.PDF.exe", ("filename", "Invoice.PDF.exe")),
    ("filename", "", None),
    ("filename", "bad\x00name", None),
    # whatever the kind: not text, or too long to index
    ("ipv4", 3232235777, None),
    ("domain", "a." * (MAX_VALUE_LENGTH // 2 + 1) + "com", None),
    ("unknown-kind", "198.51.100.7", None),
]


@pytest.mark.parametrize(("kind", "raw", "expected"), NORMALISED)
def test_normalise(kind: str, raw: object, expected: tuple[str, str] | None) -> None:
    assert normalise(kind, raw) == expected


DETECTED = [
    ("198.51.100.7", ("ipv4", "198.51.100.7")),
    (" 198.51.100.7 ", ("ipv4", "198.51.100.7")),
    ("198.51.100.7/32", ("ipv4", "198.51.100.7")),
    ("198.51.100.0/24", ("cidr", "198.51.100.0/24")),
    ("2001:DB8::1", ("ipv6", "2001:db8::1")),
    ("2001:db8::/32", ("cidr", "2001:db8::/32")),
    ("Evil.Example.COM.", ("domain", "evil.example.com")),
    ("HTTPS://Evil.Example.com/x?y=Z", ("url", "https://evil.example.com/x?y=Z")),
    ("Mallory@Example.com", ("email", "mallory@example.com")),
    (MD5, ("md5", MD5.lower())),
    (SHA1, ("sha1", SHA1.lower())),
    (SHA256, ("sha256", SHA256.lower())),
    (SHA512, ("sha512", SHA512.lower())),
    ("12345678901234567890123456789012", ("md5", "12345678901234567890123456789012")),
    ("", None),
    ("   ", None),
    ("not a value", None),
    ("1.2.3.4.5", None),
    ("deadbeef", None),
]


@pytest.mark.parametrize(("raw", "expected"), DETECTED)
def test_detect_untyped_values(raw: str, expected: tuple[str, str] | None) -> None:
    assert detect(raw) == expected


def test_detect_agrees_with_normalise_on_every_typed_example() -> None:
    """A value typed into a search box finds what the typed import stored."""
    for kind, raw, expected in NORMALISED:
        if expected is None or kind == "filename" or not isinstance(raw, str):
            continue
        assert detect(raw) == expected, (kind, raw)


SCOS = [
    ({"type": "ipv4-addr", "value": "198.51.100.7/32"}, [("ipv4", "198.51.100.7")]),
    ({"type": "ipv6-addr", "value": "2001:DB8::1"}, [("ipv6", "2001:db8::1")]),
    ({"type": "domain-name", "value": "Example.ORG."}, [("domain", "example.org")]),
    ({"type": "url", "value": "HTTP://Example.org/A"}, [("url", "http://example.org/A")]),
    ({"type": "email-addr", "value": "X@Example.org"}, [("email", "x@example.org")]),
    (
        {"type": "file", "name": "a.exe", "hashes": {"SHA-256": SHA256, "md5": MD5}},
        [("sha256", SHA256.lower()), ("md5", MD5.lower()), ("filename", "a.exe")],
    ),
    ({"type": "artifact", "hashes": {"SHA-1": SHA1}}, [("sha1", SHA1.lower())]),
    ({"type": "mutex", "name": "Global\\evil"}, []),
    ({"type": "ipv4-addr", "value": "not-an-ip"}, []),
]


@pytest.mark.parametrize(("sco", "expected"), SCOS)
def test_observables_of_cyber_observable_objects(
    sco: dict[str, object], expected: list[tuple[str, str]]
) -> None:
    assert from_sco(sco) == expected
