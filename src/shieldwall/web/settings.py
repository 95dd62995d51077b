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
    web_login_max_failures: int = Field(
        default=5,
        gt=0,
        description="Failed logins for one user name within the window before its logins are "
        "refused (429) until the window has passed.",
    )
    web_login_max_failures_per_address: int = Field(
        default=50,
        gt=0,
        description="Failed logins from one client address, across user names, within the window.",
    )
    web_login_window: timedelta = Field(
        default=timedelta(minutes=15),
        description="The window failed logins are counted in (ISO 8601 duration or seconds).",
    )


@lru_cache(maxsize=1)
def get_web_settings() -> WebSettings:
    return WebSettings()
