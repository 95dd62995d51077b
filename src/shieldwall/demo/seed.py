"""The demo coalition of `make run`: organisations, a group, keys and intel of every kind.

Seeded once into an empty store; later runs reuse it. The keys are written
to a file beside the store (mode 600) because the store keeps only their
hashes: this file is the demo's convenience, not a practice for real nodes.
"""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path

from sqlalchemy import Engine

from shieldwall.config import get_settings
from shieldwall.db.engine import read_transaction, write_transaction
from shieldwall.demo.generate import indicator
from shieldwall.intel.imports import ImportRequest, run_import
from shieldwall.intel.ingest import Mode
from shieldwall.members import bootstrap
from shieldwall.members import service as members
from shieldwall.members.model import Role, Tier
from shieldwall.sharing import service as sharing
from shieldwall.sharing.tlp import TLP

HOST = ("CCDCOE Host", "EE")
MEMBERS = [
    ("Nordic CERT", Tier.SPONSORING, "FI"),
    ("Baltic MoD", Tier.SPONSORING, "LV"),
    ("Atlantic Agency", Tier.SPONSORING, "PT"),
    ("Alpine Research", Tier.CONTRIBUTING, "AT"),
    ("Steppe CERT", Tier.APPLICANT, "UA"),
]
GROUP = "ics-defence"
GROUP_MEMBERS = ["CCDCOE Host", "Nordic CERT", "Alpine Research"]
DISTRIBUTIONS = ["org", f"group:{GROUP}", "members", "public"]


def seed_demo(engine: Engine, keys_file: Path) -> None:
    with read_transaction(engine) as conn:
        if bootstrap.host_org(conn) is not None:
            if not keys_file.exists():
                raise FileNotFoundError(f"store exists but {keys_file} is gone; remove ./var")
            return
    lines = _seed_members(engine)
    _seed_intel(engine)
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    keys_file.touch(mode=0o600)
    keys_file.write_text("".join(lines))


def _seed_members(engine: Engine) -> list[str]:
    lines: list[str] = []
    with write_transaction(engine) as conn:
        host_key = bootstrap.init_node(conn, HOST[0], HOST[1])
        lines.append(f"{HOST[0]:18} org-admin {host_key.secret}\n")
        for name, tier, country in MEMBERS:
            members.create_org(conn, name, tier, country)
            key = members.create_key(conn, name, Role.ANALYST, label="demo")
            lines.append(f"{name:18} analyst   {key.secret}\n")
        sharing.create_group(conn, GROUP, GROUP_MEMBERS, "Industrial control systems project")
    return lines


def _seed_intel(engine: Engine) -> None:
    """Every TLP x distribution from two sharing members, so TLP can be seen at work."""
    rng = random.Random(2022)
    serial = 0
    for owner in ("CCDCOE Host", "Nordic CERT"):
        with read_transaction(engine) as conn:
            principal = bootstrap.principal_for(conn, owner, Role.ANALYST)
        for distribution in DISTRIBUTIONS:
            for level in TLP:
                batch = []
                for _ in range(15):
                    batch.append(indicator(rng, serial))
                    serial += 1
                request = ImportRequest(principal, owner, level.slug, distribution, Mode.STRICT)
                run_import(engine, get_settings(), request, partial(iter, batch), f"demo {owner}")
