"""Request bodies of the membership endpoints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shieldwall.members.model import Role, Tier


class OrgCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    tier: Tier = Tier.APPLICANT
    country: str | None = Field(default=None, min_length=2, max_length=2)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org: str = Field(min_length=1, max_length=200)
    role: Role
    label: str | None = Field(default=None, max_length=200)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org: str = Field(min_length=1, max_length=200)
    username: str = Field(min_length=1, max_length=200)
    role: Role
    display_name: str | None = Field(default=None, max_length=200)
