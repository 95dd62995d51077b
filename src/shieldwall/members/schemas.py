"""Request bodies of the membership endpoints."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class UserUpdate(BaseModel):
    """Either or both of a new role and a disabled flag; an empty change is refused."""

    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    disabled: bool | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.role is None and self.disabled is None:
            raise ValueError("give a role, disabled, or both")
        return self
