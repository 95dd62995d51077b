"""Mixed logs (eve.json, Zeek TSV, iptables syslog, CSV, web access) with planted addresses."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import orjson


def _eve(rng: random.Random, src: str, dst: str) -> str:
    event = {
        "timestamp": f"2026-11-26T12:{rng.randint(0, 59):02d}:00.123456+0000",
        "flow_id": rng.getrandbits(48),
        "event_type": "flow",
        "src_ip": src,
        "src_port": rng.randint(1024, 65535),
        "dest_ip": dst,
        "dest_port": 443,
        "proto": "TCP",
    }
    return orjson.dumps(event).decode()


def _zeek(rng: random.Random, src: str, dst: str) -> str:
    uid = f"C{rng.getrandbits(64):016x}"
    fields = ["1732622400.5", uid, src, str(rng.randint(1024, 65535)), dst, "53", "udp", "dns"]
    return "\t".join(fields)


def _syslog(rng: random.Random, src: str, dst: str) -> str:
    return (
        f"Nov 26 12:00:{rng.randint(0, 59):02d} fw kernel: DROP IN=eth0 SRC={src} DST={dst} "
        f"LEN=60 PROTO=TCP SPT={rng.randint(1024, 65535)} DPT=22"
    )


def _csv(rng: random.Random, src: str, dst: str) -> str:
    return (
        f"2026-11-26 12:00:00,{src}:{rng.randint(1024, 65535)},{dst},allow,{rng.randint(1, 9999)}"
    )


def _web(rng: random.Random, src: str, dst: str) -> str:
    return (
        f'{src} - - [26/Nov/2026:12:00:00 +0000] "GET /a{rng.randint(0, 99)}.html HTTP/1.1" 200 '
        f'{rng.randint(100, 9999)} "http://{dst}:8080/landing?id=3" "Mozilla/5.0"'
    )


FORMATS = (_eve, _zeek, _syslog, _csv, _web)


def mixed_log(
    rng: random.Random,
    planted: Sequence[str],
    benign: Sequence[str],
    lines: int,
    planted_share: float = 0.05,
) -> tuple[bytes, Counter[str]]:
    """`lines` log lines; each address slot holds a planted address with `planted_share`.

    Returns the log and how many times each planted address was written.
    """
    written: Counter[str] = Counter()
    out = []
    for _ in range(lines):
        src, dst = (
            rng.choice(planted) if rng.random() < planted_share else rng.choice(benign)
            for _ in range(2)
        )
        for address in (src, dst):
            if address in planted:
                written[address] += 1
        out.append(rng.choice(FORMATS)(rng, src, dst))
    return ("\n".join(out) + "\n").encode(), written


def random_public_addresses(rng: random.Random, count: int, avoid: set[str]) -> list[str]:
    found: set[str] = set()
    while len(found) < count:
        octets = [
            rng.randint(1, 223),
            *(rng.randint(0, 255) for _ in range(2)),
            rng.randint(1, 254),
        ]
        address = ".".join(map(str, octets))
        if address not in avoid:
            found.add(address)
    return sorted(found)
