"""Configuration: defaults in code, overridden by environment variables, validated at start."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

STORAGE_SRID = 4326  # WGS84 lon/lat; see README "Coordinates"
METRIC_SRID = 4550  # CGCS2000 / 3-degree Gauss-Kruger CM 123E


class ConfigError(RuntimeError):
    """A setting is missing or malformed."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclass
class Settings:
    """Every setting the platform reads, with its default."""

    DATABASE_URL: str = ""
    SECRET_KEY: str = ""
    BASEMAP_URL: str = ""  # empty: the offline basemap drawn from our own data
    BASEMAP_ATTRIBUTION: str = ""
    NEAR_BOUNDARY_M: float = 30.0
    MERGE_DISTANCE_M: float = 50.0
    MERGE_HOURS: float = 72.0
    MAX_CONTENT_LENGTH: int = 32 * 1024 * 1024
    MAX_ATTACHMENT_BYTES: int = 10 * 1024 * 1024
    SESSION_COOKIE_SECURE: bool = False
    DEMO: bool = False
    SCHEDULER: bool = False
    SCHEDULER_INTERVAL_S: float = 60.0
    WARM_CACHES: bool = False
    LOGIN_RATE_LIMIT: int = 20  # failed sign-ins per address per 10 minutes before 429
    TRUSTED_PROXIES: int = 0  # reverse proxies in front (nginx: 1) whose X-Forwarded-For/-Proto are believed
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        """Read the environment."""
        return cls(
            DATABASE_URL=os.environ.get("DATABASE_URL", ""),
            SECRET_KEY=os.environ.get("SECRET_KEY", ""),
            BASEMAP_URL=os.environ.get("BASEMAP_URL", ""),
            BASEMAP_ATTRIBUTION=os.environ.get("BASEMAP_ATTRIBUTION", ""),
            NEAR_BOUNDARY_M=_float("NEAR_BOUNDARY_M", 30.0),
            MERGE_DISTANCE_M=_float("MERGE_DISTANCE_M", 50.0),
            MERGE_HOURS=_float("MERGE_HOURS", 72.0),
            MAX_CONTENT_LENGTH=_int("MAX_CONTENT_LENGTH", 32 * 1024 * 1024),
            MAX_ATTACHMENT_BYTES=_int("MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
            SESSION_COOKIE_SECURE=_bool("SESSION_COOKIE_SECURE", False),
            SCHEDULER=_bool("SCHEDULER", False),
            SCHEDULER_INTERVAL_S=_float("SCHEDULER_INTERVAL_S", 60.0),
            WARM_CACHES=_bool("WARM_CACHES", False),
            LOGIN_RATE_LIMIT=_int("LOGIN_RATE_LIMIT", 20),
            TRUSTED_PROXIES=_int("TRUSTED_PROXIES", 0),
        )

    def validate(self) -> None:
        """Fail fast with a message that names the setting."""
        if not self.DATABASE_URL:
            raise ConfigError(
                "DATABASE_URL is not set: use `make run` (embedded PostGIS) or export "
                "DATABASE_URL=postgresql+psycopg://user:password@host:5432/dbname"
            )
        if not self.DATABASE_URL.startswith(("postgresql://", "postgresql+psycopg://")):
            raise ConfigError("DATABASE_URL must be a postgresql:// URL (PostGIS is required)")
        if self.NEAR_BOUNDARY_M < 0 or self.MERGE_DISTANCE_M < 0 or self.MERGE_HOURS < 0:
            raise ConfigError("NEAR_BOUNDARY_M, MERGE_DISTANCE_M and MERGE_HOURS must not be negative")


def normalise_db_url(url: str) -> str:
    """Use the psycopg 3 driver whatever the URL says."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
