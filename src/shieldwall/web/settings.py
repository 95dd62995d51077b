"""Settings of the web console, read from `SHIELDWALL_*` environment variables."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIELDWALL_", extra="ignore")

    web_session_lifetime: timedelta = Field(
        default=timedelta(hours=12),
        description="How long a browser session lasts after login (ISO 8601 duration or seconds).",
    )
    web_page_size: int = Field(default=50, gt=0, le=1000, description="Rows per result page.")


@lru_cache(maxsize=1)
def get_web_settings() -> WebSettings:
    return WebSettings()
