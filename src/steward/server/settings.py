"""Django settings, derived entirely from ``steward.config`` (environment + TOML file)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from steward import config as steward_config

CONFIG = steward_config.load()
steward_config.ensure_home(CONFIG)

BASE_DIR = Path(__file__).resolve().parent.parent
STEWARD_HOME = CONFIG.home
SECRET_KEY = steward_config.secret_key(CONFIG)
DEBUG = CONFIG.debug

ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver", *CONFIG.allowed_hosts]
if CONFIG.host not in ("0.0.0.0", "::"):  # noqa: S104 - comparing, not binding
    ALLOWED_HOSTS.append(CONFIG.host)
_public_host = urlsplit(CONFIG.public_url).hostname if CONFIG.public_url else None
if _public_host:
    ALLOWED_HOSTS.append(_public_host)
if CONFIG.host in ("0.0.0.0", "::"):  # noqa: S104
    # Listening everywhere: the operator decides who can reach the port.
    ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "steward.accounts",
    "steward.tenancy",
    "steward.audit",
    "steward.inventory",
    "steward.agentapi",
    "steward.jobs",
    "steward.metrics",
    "steward.insights",
    "steward.helpdesk",
    "steward.notify",
    "steward.alerts",
    "steward.ops",
    "steward.console",
]

MIDDLEWARE = [
    "steward.ops.middleware.RequestContextMiddleware",
    "steward.agentapi.middleware.AgentBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "steward.audit.middleware.AuditContextMiddleware",
    "steward.accounts.middleware.TwoFactorMiddleware",
]

ROOT_URLCONF = "steward.server.urls"
ASGI_APPLICATION = "steward.server.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "steward.console.context.console",
            ],
        },
    },
]


def _database(config: steward_config.Config) -> dict:
    if config.uses_postgres:
        url = urlsplit(config.database_url)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(url.path.lstrip("/")) or "steward",
            "USER": unquote(url.username or ""),
            "PASSWORD": unquote(url.password or ""),
            "HOST": url.hostname or "",
            "PORT": str(url.port or ""),
            # Django's advice under ASGI: no persistent connections (each request's thread
            # would keep its own until garbage collection).
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": True,
        }
    path = (
        config.database_url.removeprefix("sqlite:///")
        if config.database_url.startswith("sqlite:///")
        else str(config.sqlite_path)
    )
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            # WAL lets the console read while the agent API writes; IMMEDIATE transactions
            # take the write lock up front, so two writers queue instead of deadlocking
            # on a lock upgrade ("database is locked").
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "TEST": {"NAME": None},
    }


DATABASES = {"default": _database(CONFIG)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 3600
SESSION_COOKIE_SECURE = bool(CONFIG.tls_cert)
CSRF_COOKIE_SECURE = bool(CONFIG.tls_cert)
CSRF_TRUSTED_ORIGINS = [CONFIG.base_url]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = None  # nothing is collected: see WHITENOISE_USE_FINDERS
# Served straight from the apps' static folders: no collectstatic, no build step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = max(CONFIG.agent_max_body, 2_621_440)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "steward.ops.logs.RequestIdFilter"}},
    "formatters": {
        "text": {"()": "steward.ops.logs.TextFormatter"},
        "json": {"()": "steward.ops.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": CONFIG.log_format,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": CONFIG.log_level.upper()},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "uvicorn.access": {"level": "WARNING"},
    },
}

STEWARD = CONFIG.values
