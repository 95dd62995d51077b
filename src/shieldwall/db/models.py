"""Imports every feature's tables so that the metadata is complete."""

from shieldwall.intel import tables as intel_tables
from shieldwall.members import tables as member_tables
from shieldwall.sharing import tables as sharing_tables

__all__ = ["intel_tables", "member_tables", "sharing_tables"]
