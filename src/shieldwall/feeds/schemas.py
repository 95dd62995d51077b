"""Request bodies of the feeds API."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class FeedKind(StrEnum):
    TAXII = "taxii"
    MISP = "misp"


class FeedCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: FeedKind
    url: str = Field(
        min_length=1,
        max_length=1000,
        description="TAXII: the API root URL; MISP: the feed URL (with manifest.json).",
    )
    collection: str | None = Field(default=None, max_length=200, description="TAXII only.")
    org: str = Field(description="Organisation that owns what the feed imports.")
    tlp: str = Field(default="amber", description="TLP of objects without a TLP marking.")
    distribution: str = Field(default="org", description="org, group:NAME, members or public.")
    username: str | None = Field(default=None, max_length=200, description="HTTP Basic user.")
    secret: str | None = Field(
        default=None, description="Password or API key of the remote server; never shown again."
    )
    interval_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    enabled: bool = True


class FeedUpdate(BaseModel):
    enabled: bool | None = None
    interval_seconds: int | None = Field(default=None, ge=60, le=7 * 24 * 3600)
