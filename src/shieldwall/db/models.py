"""Imports every feature's tables so that the metadata is complete."""

from shieldwall.correlate import tables as detection_tables  # noqa: F401
from shieldwall.db import secrets as node_secret_tables  # noqa: F401
from shieldwall.feeds import tables as feed_tables  # noqa: F401
from shieldwall.formats import tables as format_tables  # noqa: F401
from shieldwall.governance import tables as governance_tables  # noqa: F401
from shieldwall.intel import tables as intel_tables
from shieldwall.members import tables as member_tables
from shieldwall.sharing import tables as sharing_tables
from shieldwall.taxii import tables as taxii_tables  # noqa: F401
from shieldwall.web import tables as web_tables  # noqa: F401

__all__ = ["intel_tables", "member_tables", "sharing_tables"]
