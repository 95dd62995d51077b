"""Membership vocabulary: organisation tiers and key roles."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from shieldwall.errors import BadInput


class Tier(StrEnum):
    HOST = "host"
    SPONSORING = "sponsoring"
    CONTRIBUTING = "contributing"
    APPLICANT = "applicant"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"

    @property
    def on_steering_committee(self) -> bool:
        return self in (Tier.HOST, Tier.SPONSORING)

    @property
    def participates(self) -> bool:
        """Takes part in sharing beyond public intel: groups, writing intel."""
        return self in (Tier.HOST, Tier.SPONSORING, Tier.CONTRIBUTING)


class Role(StrEnum):
    ORG_ADMIN = "org-admin"
    ANALYST = "analyst"
    READER = "reader"
    SENSOR = "sensor"
    SYNC = "sync"


E = TypeVar("E", bound=StrEnum)


def parse_enum(enum: type[E], text: str, field: str) -> E:
    try:
        return enum(text.strip().lower())
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise BadInput(f"unknown {field} {text!r}; use one of: {choices}", where=field) from None
