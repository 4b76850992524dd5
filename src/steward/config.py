"""Steward's configuration: environment variables over an optional TOML file.

Pure Python, no Django: the CLI reads it before Django is set up, and the Django
settings module turns it into settings. Every key is declared once in ``OPTIONS``
(name, type, default, whether it is secret, help), so validation, ``steward config
show`` and the README's table derive from one place.

Precedence: ``STEWARD_<KEY>`` in the environment, then ``STEWARD_<KEY>_FILE`` (a file
holding the value, for secrets), then ``<key>`` in ``$STEWARD_HOME/steward.toml``, then
the default. Booleans accept only ``true``/``false`` (and ``1``/``0``): a typo must be an
error, not a silent ``False``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

ENV_PREFIX = "STEWARD_"
CONFIG_FILE_NAME = "steward.toml"


class ConfigError(Exception):
    """A configuration value is missing or malformed. ``key`` names it as the user wrote it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _parse_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"expected an integer, got {raw!r}")
    if isinstance(raw, int):
        return raw
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValueError(f"expected an integer, got {raw!r}") from None


def _parse_str(raw: Any) -> str:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise ValueError(f"expected a string, got {raw!r}")
    return str(raw)


def _parse_list(raw: Any) -> list[str]:
    if isinstance(raw, list):
        return [str(item).strip() for item in raw if str(item).strip()]
    if isinstance(raw, str):
        return [item.strip() for item in raw.split(",") if item.strip()]
    raise ValueError(f"expected a comma-separated list, got {raw!r}")


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        text = _parse_str(raw).strip().lower()
        if text not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {raw!r}")
        return text

    return parse


def _port(raw: Any) -> int:
    value = _parse_int(raw)
    if not 1 <= value <= 65535:
        raise ValueError(f"expected a port number between 1 and 65535, got {value}")
    return value


def _positive(raw: Any) -> int:
    value = _parse_int(raw)
    if value <= 0:
        raise ValueError(f"expected a positive integer, got {value}")
    return value


def _non_negative(raw: Any) -> int:
    value = _parse_int(raw)
    if value < 0:
        raise ValueError(f"expected 0 or a positive integer, got {value}")
    return value


def _interval(raw: Any) -> int:
    value = _parse_int(raw)
    if not 1 <= value <= 3600:
        raise ValueError(f"expected seconds between 1 and 3600, got {value}")
    return value


def _database_url(raw: Any) -> str:
    text = _parse_str(raw).strip()
    if text and not text.startswith(("postgres://", "postgresql://", "sqlite:///")):
        raise ValueError(
            "expected postgresql://user@host:port/name or sqlite:///path, got " + repr(text)
        )
    return text


@dataclass(frozen=True)
class Option:
    key: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    secret: bool = False


OPTIONS: tuple[Option, ...] = (
    Option(
        "database_url",
        _database_url,
        "",
        "PostgreSQL URL (postgresql://user:pass@host:5432/db); empty = SQLite in STEWARD_HOME",
        secret=True,
    ),
    Option(
        "secret_key",
        _parse_str,
        "",
        "Django secret key; empty = generated once into STEWARD_HOME/secret_key",
        secret=True,
    ),
    Option("host", _parse_str, "127.0.0.1", "Address the web server listens on"),
    Option("port", _port, 8080, "Port the web server listens on"),
    Option(
        "public_url",
        _parse_str,
        "",
        "URL users and agents reach the server at; empty = http://HOST:PORT",
    ),
    Option("allowed_hosts", _parse_list, [], "Extra host names the server answers to"),
    Option("debug", _parse_bool, False, "Django debug mode (never in production)"),
    Option("log_format", _choice("text", "json"), "text", "Log line format"),
    Option("log_level", _choice("debug", "info", "warning", "error"), "info", "Log level"),
    Option("tls_cert", _parse_str, "", "PEM certificate file: serve HTTPS when set"),
    Option("tls_key", _parse_str, "", "PEM private key file for tls_cert", secret=False),
    Option(
        "offline_after",
        _positive,
        30,
        "Seconds without contact after which a device counts as offline",
    ),
    Option("heartbeat_interval", _positive, 10, "Seconds between agent heartbeats"),
    Option("inventory_interval", _positive, 3600, "Seconds between agent inventory reports"),
    Option(
        "agent_max_body",
        _positive,
        2 * 1024 * 1024,
        "Largest agent request body accepted, in bytes",
    ),
    Option(
        "agent_max_clock_skew",
        _positive,
        300,
        "Largest difference in seconds between an agent's clock and the server's",
    ),
    Option(
        "login_max_failures",
        _positive,
        5,
        "Failed logins per account and address before login is throttled",
    ),
    Option("login_lockout", _positive, 900, "Seconds a throttled login stays blocked"),
    Option(
        "worker_interval",
        _positive,
        1,
        "Longest wait in seconds between worker rounds (a round also starts when a job is due)",
    ),
    Option(
        "web_workers",
        _positive,
        1,
        "Server processes for steward serve (1: on 2 cores, 2 were not reliably faster "
        "and used more CPU per sample; see docs/metrics-ingest.md)",
    ),
    Option("metrics_interval", _interval, 10, "Default seconds between agent metric collections"),
    Option(
        "metrics_agent_max_decompressed",
        _positive,
        8 * 1024 * 1024,
        "Largest agent metrics batch once decompressed, in bytes",
    ),
    Option(
        "metrics_write_max_body",
        _positive,
        32 * 1024 * 1024,
        "Largest line-protocol or remote-write body, compressed or not, in bytes",
    ),
    Option(
        "metrics_write_max_lines", _positive, 500_000, "Most lines in one line-protocol request"
    ),
    Option("metrics_scrape_concurrency", _positive, 8, "Scrape targets fetched at the same time"),
    Option(
        "metrics_scrape_max_body", _positive, 16 * 1024 * 1024, "Largest scrape response, in bytes"
    ),
    Option(
        "metrics_chunk_cache_mb",
        _non_negative,
        64,
        "Decoded metric chunks kept in memory per process for queries, in MiB (0: off)",
    ),
    # The metrics store's retention per tier and its cardinality guard (steward.tsdb's
    # Retention and Limits; tests/metrics/test_store.py checks the defaults are theirs).
    Option("metrics_retention_raw_days", _positive, 7, "Days the metrics store keeps raw samples"),
    Option("metrics_retention_minute_days", _positive, 90, "Days it keeps 1-minute rollups"),
    Option("metrics_retention_hour_days", _positive, 730, "Days it keeps 1-hour rollups"),
    Option(
        "metrics_max_series_per_device",
        _positive,
        10_000,
        "Active metric series a device may have; new ones beyond are refused",
    ),
    Option(
        "metrics_max_series_per_org",
        _positive,
        1_000_000,
        "Active metric series an organization may have; new ones beyond are refused",
    ),
    Option(
        "metrics_active_series_hours",
        _positive,
        24,
        "A series counts toward the series limits while its newest sample is this recent",
    ),
    Option(
        "metrics_device_cache_seconds",
        _positive,
        30,
        "Seconds the host name to device map of push ingest is cached",
    ),
)

OPTIONS_BY_KEY = {option.key: option for option in OPTIONS}


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("steward", appauthor=False))


def home_from_env(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    raw = environ.get(ENV_PREFIX + "HOME", "").strip()
    return Path(raw).expanduser().resolve() if raw else default_home()


@dataclass
class Config:
    """The effective configuration. Attribute names are the option keys."""

    home: Path
    values: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["values"][key]
        except KeyError:
            raise AttributeError(key) from None

    @property
    def sqlite_path(self) -> Path:
        return self.home / "steward.sqlite3"

    @property
    def uses_postgres(self) -> bool:
        return self.values["database_url"].startswith(("postgres://", "postgresql://"))

    @property
    def base_url(self) -> str:
        if self.values["public_url"]:
            return self.values["public_url"].rstrip("/")
        scheme = "https" if self.values["tls_cert"] else "http"
        host = self.values["host"]
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - only naming the wildcard, not binding
            host = "127.0.0.1"
        return f"{scheme}://{host}:{self.values['port']}"

    def masked(self) -> dict[str, Any]:
        """Values for display: secrets become ``********`` (or stay empty when unset)."""
        shown: dict[str, Any] = {"home": str(self.home)}
        for option in OPTIONS:
            value = self.values[option.key]
            if option.secret and value:
                value = _mask(option.key, value)
            shown[option.key] = value
        return shown


def _mask(key: str, value: str) -> str:
    if key == "database_url" and "@" in value:
        # Keep the host and database visible: they are what an operator checks.
        scheme, rest = value.split("://", 1)
        credentials, location = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:********@{location}"
    return "********"


def load(environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the configuration; raise ``ConfigError`` naming the first bad key."""
    environ = os.environ if environ is None else environ
    home = home_from_env(environ)
    file_values = _read_file(home / CONFIG_FILE_NAME)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        env_name = ENV_PREFIX + option.key.upper()
        if env_name in environ:
            raw, source, label = environ[env_name], "environment", env_name
        elif env_name + "_FILE" in environ:
            label = env_name + "_FILE"
            raw, source = _read_secret_file(label, environ[label]), "file"
        elif option.key in file_values:
            raw, source = file_values[option.key], CONFIG_FILE_NAME
            label = f"{home / CONFIG_FILE_NAME}: {option.key}"
        else:
            values[option.key] = option.default
            sources[option.key] = "default"
            continue
        try:
            values[option.key] = option.parse(raw)
        except ValueError as exc:
            raise ConfigError(label, str(exc)) from None
        sources[option.key] = source
    unknown = sorted(set(file_values) - set(OPTIONS_BY_KEY))
    if unknown:
        raise ConfigError(f"{home / CONFIG_FILE_NAME}: {unknown[0]}", "unknown setting")
    if bool(values["tls_cert"]) != bool(values["tls_key"]):
        raise ConfigError("STEWARD_TLS_KEY", "tls_cert and tls_key must be set together")
    tiers = ("raw", "minute", "hour")
    for finer, coarser in itertools.pairwise(tiers):
        kept, longer = (values[f"metrics_retention_{t}_days"] for t in (finer, coarser))
        if kept > longer:
            raise ConfigError(
                f"metrics_retention_{coarser}_days",
                f"keeps {longer} days, less than the {finer} tier's {kept}: a coarser tier "
                "must keep at least as long",
            )
    return Config(home=home, values=values, sources=sources)


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot be read: {exc.strerror}") from None


def _read_secret_file(label: str, path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(label, f"cannot read {path}: {exc.strerror}") from None


def ensure_home(config: Config) -> None:
    """Create the data directory (owner-only) on first use."""
    config.home.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # e.g. a file system without modes
        config.home.chmod(0o700)


def secret_key(config: Config) -> str:
    """The configured secret key, or one generated once and kept in the data directory."""
    if config.values["secret_key"]:
        return str(config.values["secret_key"])
    path = config.home / "secret_key"
    if path.exists():
        return path.read_text().strip()
    ensure_home(config)
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this install won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
