"""Configuration: environment over TOML file over defaults; bad values name their key."""

from __future__ import annotations

import pytest

from steward import config


def load(tmp_path, **env):
    return config.load({"STEWARD_HOME": str(tmp_path), **env})


def test_defaults_use_sqlite_in_the_home(tmp_path):
    cfg = load(tmp_path)
    assert cfg.home == tmp_path.resolve()
    assert not cfg.uses_postgres
    assert cfg.sqlite_path == tmp_path.resolve() / "steward.sqlite3"
    assert cfg.port == 8080 and cfg.sources["port"] == "default"


def test_environment_overrides_the_file(tmp_path):
    (tmp_path / "steward.toml").write_text('port = 9000\nlog_format = "json"\n')
    cfg = load(tmp_path, STEWARD_PORT="9100")
    assert cfg.port == 9100 and cfg.sources["port"] == "environment"
    assert cfg.log_format == "json" and cfg.sources["log_format"] == "steward.toml"


@pytest.mark.parametrize(
    ("env", "key", "message"),
    [
        ({"STEWARD_PORT": "eighty"}, "STEWARD_PORT", "expected an integer"),
        ({"STEWARD_PORT": "70000"}, "STEWARD_PORT", "between 1 and 65535"),
        ({"STEWARD_DEBUG": "yes"}, "STEWARD_DEBUG", "expected true or false"),
        ({"STEWARD_LOG_FORMAT": "xml"}, "STEWARD_LOG_FORMAT", "expected one of text, json"),
        ({"STEWARD_DATABASE_URL": "mysql://x"}, "STEWARD_DATABASE_URL", "expected postgresql"),
        ({"STEWARD_TLS_CERT": "/c.pem"}, "STEWARD_TLS_KEY", "set together"),
        ({"STEWARD_METRICS_CHUNK_CACHE_MB": "-1"}, "STEWARD_METRICS_CHUNK_CACHE_MB", "0 or a"),
        (
            {"STEWARD_METRICS_RETENTION_RAW_DAYS": "0"},
            "STEWARD_METRICS_RETENTION_RAW_DAYS",
            "positive",
        ),
        (
            {"STEWARD_METRICS_RETENTION_HOUR_DAYS": "30"},
            "metrics_retention_hour_days",
            "keeps 30 days, less than the minute tier's 90",
        ),
        (
            {"STEWARD_METRICS_RETENTION_RAW_DAYS": "100"},
            "metrics_retention_minute_days",
            "keeps 90 days, less than the raw tier's 100",
        ),
    ],
)
def test_bad_values_name_the_key(tmp_path, env, key, message):
    with pytest.raises(config.ConfigError) as caught:
        load(tmp_path, **env)
    assert caught.value.key == key
    assert message in caught.value.message


def test_bad_file_values_name_the_file_and_key(tmp_path):
    (tmp_path / "steward.toml").write_text("offline_after = -5\n")
    with pytest.raises(config.ConfigError) as caught:
        load(tmp_path)
    assert caught.value.key.endswith("steward.toml: offline_after")


def test_unknown_file_keys_are_errors(tmp_path):
    (tmp_path / "steward.toml").write_text("prot = 80\n")
    with pytest.raises(config.ConfigError, match="prot: unknown setting"):
        load(tmp_path)


def test_invalid_toml_is_an_error(tmp_path):
    (tmp_path / "steward.toml").write_text("port = \n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        load(tmp_path)


def test_secrets_can_come_from_files(tmp_path):
    secret = tmp_path / "db-url"
    secret.write_text("postgresql://steward:hunter2@db:5432/steward\n")
    cfg = load(tmp_path, STEWARD_DATABASE_URL_FILE=str(secret))
    assert cfg.uses_postgres
    assert cfg.masked()["database_url"] == "postgresql://steward:********@db:5432/steward"


def test_masked_hides_secrets(tmp_path):
    cfg = load(tmp_path, STEWARD_SECRET_KEY="s3cret")
    shown = cfg.masked()
    assert shown["secret_key"] == "********"
    assert "s3cret" not in repr(shown)


def test_generated_secret_key_is_kept_private_and_reused(tmp_path):
    cfg = load(tmp_path)
    key = config.secret_key(cfg)
    assert config.secret_key(cfg) == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_the_chunk_cache_can_be_turned_off(tmp_path):
    assert load(tmp_path).metrics_chunk_cache_mb == 64
    assert load(tmp_path, STEWARD_METRICS_CHUNK_CACHE_MB="0").metrics_chunk_cache_mb == 0


def test_metrics_retention_and_limits_are_settings(tmp_path):
    (tmp_path / "steward.toml").write_text(
        "metrics_retention_raw_days = 14\nmetrics_retention_hour_days = 1825\n"
    )
    cfg = load(tmp_path, STEWARD_METRICS_MAX_SERIES_PER_DEVICE="20000")
    assert (cfg.metrics_retention_raw_days, cfg.metrics_retention_minute_days) == (14, 90)
    assert cfg.metrics_retention_hour_days == 1825
    assert cfg.metrics_max_series_per_device == 20_000
    assert cfg.metrics_active_series_hours == 24
