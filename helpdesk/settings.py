"""Settings, read from the environment only (12-factor).

Every value has a safe production default; the local run (`make run`) and the test command
set the development values explicitly. See `.env.example` for the full list.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from helpdesk.env import envbool, envint, envlist, envsecret, envstr

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = envbool("DJANGO_DEBUG", False)

SECRET_KEY = envsecret("DJANGO_SECRET_KEY", default="insecure-dev-key-only-for-debug" if DEBUG else None)

ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# Public base URL of this installation, used in links sent to customers and in webhook set-up.
PUBLIC_URL = envstr("HELPDESK_PUBLIC_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    "helpdesk",
    "tickets",
    "channels_ingest",
    "surveys",
    "metrics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "helpdesk.middleware.AgentLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "helpdesk.asgi.application"

# --- Stores -------------------------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", "postgresql://postgres@localhost:5432/helpdesk"),
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = envint("DATABASE_CONNECT_TIMEOUT", 5)
DATABASES["default"]["TEST"] = {"NAME": envstr("DATABASE_TEST_NAME", "test_helpdesk")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("REDIS_URL", "redis://localhost:6379/0")


def _kombu_url(redis_url: str) -> str:
    """Kombu spells a Unix-socket Redis as redis+socket:// and reads its database number from
    `virtual_host` (it ignores `db`); redis-py spells it unix://...?db=N."""
    if not redis_url.startswith("unix://"):
        return redis_url
    path, _, query = redis_url[len("unix://") :].partition("?")
    params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    if "db" in params:
        params["virtual_host"] = params.pop("db")
    encoded = "&".join(f"{key}={value}" for key, value in params.items())
    return f"redis+socket://{path}" + (f"?{encoded}" if encoded else "")


CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": envstr("CACHE_KEY_PREFIX", "helpdesk"),
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": envstr("CHANNEL_LAYER_PREFIX", "helpdesk")},
    }
}

# --- Celery -------------------------------------------------------------------------------

CELERY_BROKER_URL = _kombu_url(envstr("CELERY_BROKER_URL", REDIS_URL))
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A web process must not hang on a broker outage: publishing fails fast, the event is already
# stored, and the sweeper queues it again once the broker is back.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5, "visibility_timeout": 3600}
CELERY_TASK_PUBLISH_RETRY = False
# Celery's Django fixup closes the database connection around every task unless told to reuse
# it: a reconnect per task costs more than most tasks. Connections are reused, and checked before
# each task exactly as Django checks them before each request (see helpdesk/celery.py).
CELERY_DB_REUSE_MAX = envint("CELERY_DB_REUSE_MAX", 1000)
CELERY_TASK_DEFAULT_QUEUE = "default"
# One queue per kind of work, so each can be scaled on its own (see DESIGN.md).
CELERY_TASK_QUEUES_NAMES = ["default", "ingest", "outbound", "sla", "metrics"]
# Tasks are named "<area>.<action>"; the area picks the queue.
CELERY_TASK_ROUTES = {
    "ingest.*": {"queue": "ingest"},
    "outbound.*": {"queue": "outbound"},
    "sla.*": {"queue": "sla"},
    "metrics.*": {"queue": "metrics"},
    # Surveys go out to customers like replies do.
    "surveys.*": {"queue": "outbound"},
}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "ingest-requeue-pending": {
        "task": "ingest.requeue_pending",
        "schedule": float(envint("HELPDESK_INGEST_SWEEP_SECONDS", 60)),
    },
    "ingest-poll-mailboxes": {
        "task": "ingest.poll_mailboxes",
        "schedule": float(envint("HELPDESK_IMAP_POLL_SECONDS", 60)),
    },
    "outbound-requeue-stuck": {"task": "outbound.requeue_stuck", "schedule": 60.0},
    # Shops: fetch orders changed since the last pass, catching webhooks that never came.
    "ingest-reconcile-shops": {
        "task": "ingest.reconcile_shops",
        "schedule": float(envint("HELPDESK_SHOP_RECONCILE_SECONDS", 900)),
    },
    # eBay: member messages pulled from the Trading API, orders from the Fulfillment API.
    "ingest-poll-ebay-messages": {
        "task": "ingest.poll_ebay_messages",
        "schedule": float(envint("HELPDESK_EBAY_POLL_SECONDS", 120)),
    },
    "ingest-sync-ebay-orders": {
        "task": "ingest.sync_ebay_orders",
        "schedule": float(envint("HELPDESK_EBAY_ORDER_SYNC_SECONDS", 900)),
    },
    # Amazon: SP-API ORDER_CHANGE notifications from each seller's SQS queue (long polling).
    "ingest-poll-amazon-sqs": {
        "task": "ingest.poll_amazon_sqs",
        "schedule": float(envint("HELPDESK_AMAZON_SQS_POLL_SECONDS", 60)),
    },
    # Dashboards: recompute today's, yesterday's and newly touched days' rollups (metrics.rollup).
    "metrics-refresh-recent": {"task": "metrics.refresh_recent", "schedule": 60.0},
    "surveys-dispatch-due": {"task": "surveys.dispatch_due", "schedule": 60.0},
    # SLA warnings and breaches: reads only the tickets whose next check has come (tickets.sla.sweep).
    "sla-sweep": {"task": "sla.sweep", "schedule": float(envint("HELPDESK_SLA_SWEEP_SECONDS", 60))},
    # Routing: hand out tickets waiting in auto-assigning teams; close long-solved tickets.
    "routing-assign-waiting": {"task": "routing.assign_waiting", "schedule": 60.0},
    "routing-auto-close-solved": {"task": "routing.auto_close_solved", "schedule": 3600.0},
    # Chat widget: bot conversations that never reached a person are forgotten after a while.
    "widget-forget-abandoned": {"task": "widget.forget_abandoned", "schedule": 3600.0},
    "helpdesk-heartbeat": {
        "task": "helpdesk.record_heartbeat",
        # Beat -> broker -> worker liveness; /healthz does not depend on it.
        "schedule": float(envint("HELPDESK_HEARTBEAT_SECONDS", 60)),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = envstr("CELERY_BEAT_SCHEDULE_FILENAME", "celerybeat-schedule")
# SLA engine: tickets locked and processed per sweep transaction, and how often each process
# checks whether the SLA policies or calendars changed (see tickets/sla/cache.py).
SLA_SWEEP_BATCH_SIZE = envint("HELPDESK_SLA_SWEEP_BATCH_SIZE", 1000)
SLA_CONFIG_CHECK_SECONDS = envint("HELPDESK_SLA_CONFIG_CHECK_SECONDS", 5)
# Replies still queued this long after saving are dispatched again (the broker was down, a task was lost).
HELPDESK_OUTBOUND_REQUEUE_AFTER_SECONDS = envint("HELPDESK_OUTBOUND_REQUEUE_AFTER_SECONDS", 120)

# --- Auth ---------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tickets:inbox"
LOGOUT_REDIRECT_URL = "login"

# --- Internationalisation -----------------------------------------------------------------

LANGUAGE_CODE = envstr("DJANGO_LANGUAGE_CODE", "en")
LANGUAGES = [
    ("en", _("English")),
    ("es", _("Spanish")),
    ("ro", _("Romanian")),
]
LOCALE_PATHS = [BASE_DIR / "helpdesk" / "locale"]
TIME_ZONE = envstr("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(envstr("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "helpdesk" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "servestatic.storage.CompressedManifestStaticFilesStorage"
    },
}
SERVESTATIC_USE_FINDERS = DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(envstr("DJANGO_MEDIA_ROOT", str(BASE_DIR / "media")))
# Largest attachment we accept, in bytes.
ATTACHMENT_MAX_BYTES = envint("HELPDESK_ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024)

# --- Security -----------------------------------------------------------------------------

SECURE_SSL_REDIRECT = envbool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("DJANGO_BEHIND_PROXY", True) else None
# Health checks come from load balancers over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = envint("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = envbool("DJANGO_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = envbool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- REST API -----------------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes DRF answer 401 (not 403) to anonymous calls.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "DESCRIPTION": "Tickets, messages, customers and orders of the omnichannel helpdesk.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `status` (and Channel is both `channel` and `marketplace`): name each
    # choice set once so the schema has stable, readable enum names.
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "tickets.models.Channel",
        "TicketStatusEnum": "tickets.models.Ticket.Status",
        "OrderStatusEnum": "tickets.models.Order.Status",
        "ShipmentStatusEnum": "tickets.models.Shipment.Status",
    },
}

# --- Email (outbound notifications; per-mailbox SMTP comes with the email channel) -------

EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envsecret("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "helpdesk@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Secrets at rest ----------------------------------------------------------------------

# Key for ChannelAccount secrets. Defaults to one derived from SECRET_KEY; set it on its own
# in production so rotating SECRET_KEY does not lose stored credentials.
HELPDESK_SECRETS_KEY = envsecret("HELPDESK_SECRETS_KEY", default="") or SECRET_KEY

# --- Ingest ---------------------------------------------------------------------------------

# Largest webhook body accepted (413 above). Inbound e-mail with attachments needs room.
HELPDESK_WEBHOOK_MAX_BYTES = envint("HELPDESK_WEBHOOK_MAX_BYTES", 30 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = HELPDESK_WEBHOOK_MAX_BYTES
# Store webhooks from a shared pool of threads whose database connections persist (see
# channels_ingest/views.py); off only for in-process tests.
HELPDESK_WEBHOOK_SHARED_THREADS = envbool("HELPDESK_WEBHOOK_SHARED_THREADS", True)
# Events still waiting this long are queued again by the beat sweeper.
HELPDESK_INGEST_REQUEUE_AFTER_SECONDS = envint("HELPDESK_INGEST_REQUEUE_AFTER_SECONDS", 120)
# Amazon SQS long polling: seconds one ReceiveMessage waits for notifications (at most 20).
HELPDESK_AMAZON_SQS_WAIT_SECONDS = min(envint("HELPDESK_AMAZON_SQS_WAIT_SECONDS", 10), 20)
# A worker processing one event takes up to this many other waiting events with it and threads
# them together (set-based queries, one transaction); 1 processes every event on its own.
HELPDESK_INGEST_BATCH_SIZE = envint("HELPDESK_INGEST_BATCH_SIZE", 100)
# A customer reply within this many days reopens a solved ticket; later, a follow-up ticket starts.
HELPDESK_REOPEN_WINDOW_DAYS = envint("HELPDESK_REOPEN_WINDOW_DAYS", 7)
# IMAP polling records larger messages as failed events (visible to admins) instead of fetching them.
HELPDESK_IMAP_MAX_MESSAGE_BYTES = envint("HELPDESK_IMAP_MAX_MESSAGE_BYTES", 30 * 1024 * 1024)

# --- Chat widget (channels_ingest.widget) ---------------------------------------------------
# Longest visitor message, in characters; largest file a visitor may send, in bytes.
HELPDESK_WIDGET_MAX_MESSAGE_CHARS = envint("HELPDESK_WIDGET_MAX_MESSAGE_CHARS", 2000)
HELPDESK_WIDGET_ATTACHMENT_MAX_BYTES = envint("HELPDESK_WIDGET_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
# A reply to a visitor who has gone waits this long after their last sign of life before it goes
# by email (they may only be reloading the page).
HELPDESK_WIDGET_EMAIL_AFTER_SECONDS = envint("HELPDESK_WIDGET_EMAIL_AFTER_SECONDS", 45)
# Bot conversations that never reached a person are deleted this long after the visitor left.
HELPDESK_WIDGET_KEEP_DAYS = envint("HELPDESK_WIDGET_KEEP_DAYS", 30)
# Collision detection: an open ticket page refreshes its presence this often, and counts as gone
# this long after its last refresh (a crashed tab).
HELPDESK_PRESENCE_HEARTBEAT_SECONDS = envint("HELPDESK_PRESENCE_HEARTBEAT_SECONDS", 8)
HELPDESK_PRESENCE_TTL_SECONDS = envint("HELPDESK_PRESENCE_TTL_SECONDS", 20)

# --- Logging ------------------------------------------------------------------------------

LOG_LEVEL = envstr("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
