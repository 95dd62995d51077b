"""Settings of governance, read from `SHIELDWALL_*` environment variables.

Kept apart from the node's `config.Settings` because only governance uses
them: the ledger signing key and the parameters of the silence procedure.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class GovernanceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIELDWALL_", extra="ignore")

    ledger_key_file: Path = Field(
        default=Path("./var/ledger-key.pem"),
        description="PEM file of the node's Ed25519 ledger key; created on first use (mode 0600).",
    )
    ledger_key_passphrase: SecretStr | None = Field(
        default=None,
        description="Node secret that encrypts the ledger key at rest; unencrypted when unset.",
    )
    governance_sponsors_required: int = Field(
        default=1, ge=1, description="Sponsoring committee members an application needs."
    )
    governance_decision_period: timedelta = Field(
        default=timedelta(days=7),
        description="Silence period of a decision (ISO 8601 duration such as P7D, or seconds).",
    )
    governance_tick_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How often the node closes due decisions with no request; 0 disables it.",
    )


@lru_cache(maxsize=1)
def get_governance_settings() -> GovernanceSettings:
    return GovernanceSettings()
