"""Fixtures of the security review: the governance API helper, borrowed as it is."""

from __future__ import annotations

from tests.governance.conftest import api, clock, gov, gov_client, gov_settings

__all__ = ["api", "clock", "gov", "gov_client", "gov_settings"]
