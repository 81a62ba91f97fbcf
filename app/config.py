"""Configuration: defaults in code, overridden by environment variables, validated at start."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


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
    REPORTED_AT_MAX_AGE_DAYS: float = 365.0  # a report's reported_at may lie this far back
    MAX_CONTENT_LENGTH: int = 32 * 1024 * 1024
    MAX_ATTACHMENT_BYTES: int = 10 * 1024 * 1024
    SESSION_COOKIE_SECURE: bool = False
    DEMO: bool = False
    SCHEDULER: bool = False
    SCHEDULER_INTERVAL_S: float = 60.0
    WARM_CACHES: bool = False
    RASTER_STORE: str = ""  # folder where the ownership raster is stored once per host and mapped by every worker;
    # empty: <temp dir>/nanhui-rasters-<uid>; "off": every process keeps its own copy
    LOGIN_RATE_LIMIT: int = 20  # failed sign-ins per address per 10 minutes before 429
    TRUSTED_PROXIES: int = 0  # reverse proxies in front (nginx: 1) whose X-Forwarded-For/-Proto are believed
    PUBLIC_COLLECTIONS: frozenset | str = frozenset()  # OGC collections anonymous callers may read
    OPEN311_CHANNELS: dict | str = field(default_factory=dict)  # api_key owner -> channel of their reports
    OPEN311_PUBLIC_READ: bool = True  # Open311 GET requests without an api_key (the spec's public fields)
    METRICS_TOKEN: str = ""  # a scrape secret for GET /metrics (at least 16 characters), or empty
    METRICS_LOOPBACK: bool = False  # GET /metrics from this host straight to gunicorn without a token
    MQTT_URL: str = ""  # the sensors' broker, mqtt://user:password@host:port (make run starts scripts/mqtt.sh)
    DISTRICT_WEBHOOK_URL: str = ""  # where the district center takes our events (empty: they wait in the outbox)
    DISTRICT_WEBHOOK_SECRET: str = ""  # the HMAC-SHA256 key of those posts (at least 16 characters)
    DISTRICT_OUTBOX_ALL: bool = False  # every case's state changes go upward, not only the district's orders
    DISTRICT_MAX_ATTEMPTS: int = 8  # failed posts of one event before it goes to the dead-letter list
    POSITION_RETENTION_DAYS: float = 30.0  # staff positions older than this are deleted by the scheduler
    POSITION_MAX_AGE_HOURS: float = 48.0  # a position may arrive this late (a phone offline for a shift)
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
            REPORTED_AT_MAX_AGE_DAYS=_float("REPORTED_AT_MAX_AGE_DAYS", 365.0),
            MAX_CONTENT_LENGTH=_int("MAX_CONTENT_LENGTH", 32 * 1024 * 1024),
            MAX_ATTACHMENT_BYTES=_int("MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
            SESSION_COOKIE_SECURE=_bool("SESSION_COOKIE_SECURE", False),
            SCHEDULER=_bool("SCHEDULER", False),
            SCHEDULER_INTERVAL_S=_float("SCHEDULER_INTERVAL_S", 60.0),
            WARM_CACHES=_bool("WARM_CACHES", False),
            RASTER_STORE=os.environ.get("RASTER_STORE", ""),
            LOGIN_RATE_LIMIT=_int("LOGIN_RATE_LIMIT", 20),
            TRUSTED_PROXIES=_int("TRUSTED_PROXIES", 0),
            PUBLIC_COLLECTIONS=os.environ.get("PUBLIC_COLLECTIONS", ""),
            OPEN311_CHANNELS=os.environ.get("OPEN311_CHANNELS", ""),
            OPEN311_PUBLIC_READ=_bool("OPEN311_PUBLIC_READ", True),
            METRICS_TOKEN=os.environ.get("METRICS_TOKEN", ""),
            METRICS_LOOPBACK=_bool("METRICS_LOOPBACK", False),
            MQTT_URL=os.environ.get("MQTT_URL", ""),
            DISTRICT_WEBHOOK_URL=os.environ.get("DISTRICT_WEBHOOK_URL", ""),
            DISTRICT_WEBHOOK_SECRET=os.environ.get("DISTRICT_WEBHOOK_SECRET", ""),
            DISTRICT_OUTBOX_ALL=_bool("DISTRICT_OUTBOX_ALL", False),
            DISTRICT_MAX_ATTEMPTS=_int("DISTRICT_MAX_ATTEMPTS", 8),
            POSITION_RETENTION_DAYS=_float("POSITION_RETENTION_DAYS", 30.0),
            POSITION_MAX_AGE_HOURS=_float("POSITION_MAX_AGE_HOURS", 48.0),
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
        if self.REPORTED_AT_MAX_AGE_DAYS <= 0:
            raise ConfigError("REPORTED_AT_MAX_AGE_DAYS must be positive")
        if self.NEAR_BOUNDARY_M < 0 or self.MERGE_DISTANCE_M < 0 or self.MERGE_HOURS < 0:
            raise ConfigError("NEAR_BOUNDARY_M, MERGE_DISTANCE_M and MERGE_HOURS must not be negative")
        if self.POSITION_RETENTION_DAYS <= 0 or self.POSITION_MAX_AGE_HOURS <= 0:
            raise ConfigError("POSITION_RETENTION_DAYS and POSITION_MAX_AGE_HOURS must be positive")
        if self.METRICS_TOKEN and len(self.METRICS_TOKEN) < 16:
            raise ConfigError("METRICS_TOKEN must be at least 16 characters (or empty to turn it off)")
        self._validate_connectors()
        self.PUBLIC_COLLECTIONS = parse_public(self.PUBLIC_COLLECTIONS)
        self.OPEN311_CHANNELS = parse_channels(self.OPEN311_CHANNELS)

    def _validate_connectors(self) -> None:
        if self.MQTT_URL and not self.MQTT_URL.startswith(("mqtt://", "mqtts://")):
            raise ConfigError("MQTT_URL must be mqtt://user:password@host:port (or mqtts://)")
        if self.DISTRICT_WEBHOOK_URL and not self.DISTRICT_WEBHOOK_URL.startswith(("http://", "https://")):
            raise ConfigError("DISTRICT_WEBHOOK_URL must be an http(s) URL")
        if self.DISTRICT_WEBHOOK_URL and len(self.DISTRICT_WEBHOOK_SECRET) < 16:
            raise ConfigError("DISTRICT_WEBHOOK_SECRET must be at least 16 characters when DISTRICT_WEBHOOK_URL is set")
        if self.DISTRICT_MAX_ATTEMPTS < 1:
            raise ConfigError("DISTRICT_MAX_ATTEMPTS must be at least 1")


NEVER_PUBLIC = frozenset({"cases"})  # cases carry descriptions and addresses from citizens


def parse_public(raw: str | Iterable[str] | None) -> frozenset[str]:
    """PUBLIC_COLLECTIONS: comma-separated OGC collection ids; unknown ids and cases are refused."""
    from app.interop.ogc import collection_ids

    names = {n.strip() for n in raw.split(",") if n.strip()} if isinstance(raw, str) else set(raw or ())
    unknown = sorted(names - set(collection_ids()))
    if unknown:
        raise ConfigError(f"PUBLIC_COLLECTIONS names unknown collections {unknown}; known: {collection_ids()}")
    if names & NEVER_PUBLIC:
        raise ConfigError("PUBLIC_COLLECTIONS may not include cases (they hold citizens' descriptions)")
    return frozenset(names)


def parse_channels(raw: str | Mapping[str, str] | None) -> dict[str, str]:
    """OPEN311_CHANNELS: user:channel pairs; a malformed pair fails at start with the pair named."""
    if isinstance(raw, Mapping):
        return dict(raw)
    pairs = {}
    for item in (p.strip() for p in (raw or "").split(",") if p.strip()):
        user, sep, channel = item.partition(":")
        if not sep or not user.strip() or not channel.strip():
            raise ConfigError(f"OPEN311_CHANNELS: {item!r} is not user:channel")
        pairs[user.strip()] = channel.strip()
    return pairs


def normalise_db_url(url: str) -> str:
    """Use the psycopg 3 driver whatever the URL says."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
