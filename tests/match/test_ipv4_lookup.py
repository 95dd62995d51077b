"""IPv4 look-ups agree with a plain reference: every indicator address or CIDR holding the value.

The index probes the /32 table, then the /16-/31 CIDR tables only for an
address whose /16 is flagged as holding one, then the wider CIDRs; the
reference walks every indicator with `ipaddress`.
"""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from shieldwall.match.index import Found, MatchIndex
from shieldwall.sharing.policy import Marking
from shieldwall.sharing.tlp import TLP, DistKind

OWNER = Marking(1, TLP.AMBER, DistKind.ORG)

# Few distinct /16s (and addresses near their edges), so that look-ups hit,
# miss by one, and fall in flagged and unflagged /16s alike.
_BASES = (0x0A000000, 0xC0A80000, 0xC0A8FF00, 0xCB007100, 0x0AFF0000, 0xFFFFFE00)
addresses = st.builds(
    lambda base, low: ipaddress.IPv4Address(base + low),
    st.sampled_from(_BASES),
    st.integers(0, 511),
)
networks = st.builds(
    lambda address, prefix: ipaddress.IPv4Network(f"{address}/{prefix}", strict=False),
    addresses,
    st.integers(0, 32),
)


def reference(held: list[ipaddress.IPv4Network], raws: list[str]) -> list[Found]:
    """Per value in order: the address itself, then each containing CIDR, longest first."""
    out: list[Found] = []
    for position, raw in enumerate(raws):
        address = ipaddress.IPv4Address(raw)
        containing = sorted({net for net in held if address in net}, key=lambda net: -net.prefixlen)
        for net in containing:
            slots = [slot for slot, other in enumerate(held) if other == net]
            kept = slots[0] if len(slots) == 1 else slots
            if net.prefixlen == 32:
                out.append((position, "ipv4", raw, kept))
            else:
                out.append((position, "cidr", str(net), kept))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(networks, max_size=12), st.lists(addresses, max_size=20))
def test_ipv4_look_ups_match_the_reference(
    held: list[ipaddress.IPv4Network], asked: list[ipaddress.IPv4Address]
) -> None:
    index = MatchIndex()
    for pk, net in enumerate(held, start=1):
        value = str(net.network_address) if net.prefixlen == 32 else str(net)
        index.add(pk, OWNER, [("ipv4" if net.prefixlen == 32 else "cidr", value)])
    raws = [str(address) for address in asked]
    assert index.lookup_many("ipv4", raws) == reference(held, raws)
