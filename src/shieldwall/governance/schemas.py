"""Request bodies of the governance endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shieldwall.governance.model import Choice

_TEXT = 10_000


class ApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tier: Literal["sponsoring", "contributing"]
    statement: str = Field(min_length=1, max_length=_TEXT)


class VoteCast(BaseModel):
    model_config = ConfigDict(extra="forbid")
    choice: Choice
    reason: str | None = Field(default=None, max_length=_TEXT)


class SuspensionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=_TEXT)


class GroupAdmissionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: str = Field(min_length=1, max_length=200)
    org: str = Field(min_length=1, max_length=200)


class KeyExport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Encrypts the exported PEM (PKCS#8, best available encryption) when given.
    passphrase: str | None = Field(default=None, min_length=8, max_length=1024)
