"""Every setting of a node, read from `SHIELDWALL_*` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIELDWALL_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/shieldwall.db",
        description="SQLAlchemy URL of the store; SQLite (WAL) or postgresql+psycopg://...",
    )
    max_body_bytes: int = Field(
        default=256 * 1024 * 1024, gt=0, description="Largest request body accepted (413 above)."
    )
    page_size_default: int = Field(default=100, gt=0)
    page_size_max: int = Field(default=1000, gt=0)
    public_read: bool = Field(
        default=False,
        description="Serve TLP:CLEAR intel with distribution 'public' without authentication.",
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without a key; otherwise a key of the host organisation.",
    )
    ingest_batch_size: int = Field(default=5000, gt=0)
    match_max_observables: int = Field(
        default=10_000, gt=0, description="Most observables one POST /api/v1/match takes."
    )
    correlation_max_objects: int = Field(
        default=100,
        gt=0,
        description="A value held by more objects than this is flagged, not expanded.",
    )
    correlation_exclusions: str = Field(
        default="",
        description="Comma-separated values never correlated (e.g. a sinkhole address).",
    )
    log_level: str = "info"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
