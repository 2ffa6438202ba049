"""Settings for every run mode.

Two modes, chosen by ``C360_ENV``:

* ``embedded`` (default): a laptop or a demo. SQLite under ``var/``, a Celery broker on the
  file system (no server), a secret key generated once and kept under ``var/``.
* ``production``: every value from the environment; ``SECRET_KEY``, ``DATABASE_URL`` and
  ``ALLOWED_HOSTS`` are required.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
import pghistory
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from customer360.settings.env import env_bool, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("C360_VAR_DIR", str(BASE_DIR / "var")))

C360_ENV = env_str("C360_ENV", "embedded")
if C360_ENV not in {"embedded", "production"}:
    raise ImproperlyConfigured(f"C360_ENV={C360_ENV!r} must be 'embedded' or 'production'")
PRODUCTION = C360_ENV == "production"
EMBEDDED = not PRODUCTION

# Off unless asked for (DEBUG=true): even the embedded default runs as users run it, with the
# app's own 404/500 pages instead of Django's debug page listing every URL pattern.
DEBUG = env_bool("DEBUG", default=False)


def _embedded_secret_key() -> str:
    """Generate a key on first start and keep it, so sessions survive restarts."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()


SECRET_KEY = env_str("SECRET_KEY", required=PRODUCTION) or _embedded_secret_key()
if PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long in production")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"], required=PRODUCTION)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Applications -----------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_filters",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Change history (README "Audit"): row triggers on PostgreSQL write every insert, update and
    # delete of the tracked models into their history tables, also for COPY and UPDATE ... FROM.
    "pgtrigger",
    "pghistory",
    "customer360",
    "crm",
    "marketing",
    "billing",
    "collab",
    "insights",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "customer360.middleware.NulQueryParameterMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Who changed what through which path (page or API): the context of the history rows.
    "customer360.audit.middleware.HistoryContextMiddleware",
    "customer360.signin.middleware.SessionTimeoutMiddleware",
    "customer360.signin.middleware.LoginRequiredMiddleware",
    "customer360.signin.middleware.SecondFactorMiddleware",
    # Last: turns a lockout seen during sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
    # A view's database connection error is a 503 with Retry-After (customer360/outage.py).
    "customer360.outage.DatabaseOutageMiddleware",
]

ROOT_URLCONF = "customer360.urls"
WSGI_APPLICATION = "customer360.wsgi.application"

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
                "customer360.context_processors.navigation",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
_database_url = env_str("DATABASE_URL", required=PRODUCTION) or f"sqlite:///{VAR_DIR / 'customer360.sqlite3'}"
try:
    _db = dj_database_url.parse(_database_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
except (ValueError, KeyError) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
if PRODUCTION and _db["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point to PostgreSQL (postgres://...) in production")
if _db["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _db["CONN_MAX_AGE"] = 0
    # WAL lets the web server read while the worker writes; IMMEDIATE avoids lock upgrades.
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db["CONN_HEALTH_CHECKS"] = True
    # Search tolerates small typos ("Hubre" finds "Huber"): pg_trgm's default of 0.6 is too strict.
    _db.setdefault("OPTIONS", {})["options"] = "-c pg_trgm.word_similarity_threshold=0.45"
DATABASES = {"default": _db}
# An optional read replica (issue #18): dashboards, search and exports read from it (customer360/replica.py);
# everything in a write transaction, and everything after a write in the same request, reads the primary.
_replica_url = env_str("DATABASE_REPLICA_URL")
if _replica_url:
    if _db["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs DATABASE_URL on PostgreSQL")
    try:
        _replica = dj_database_url.parse(_replica_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"DATABASE_REPLICA_URL is malformed: {exc}") from None
    _replica["CONN_HEALTH_CHECKS"] = True
    _replica["OPTIONS"] = dict(_db.get("OPTIONS", {}))
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES["replica"] = _replica
    DATABASE_ROUTERS = ["customer360.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = _db["ENGINE"] == "django.db.backends.postgresql"

# --- Redis, cache, Celery -----------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if PRODUCTION and not REDIS_URL and not env_str("CELERY_BROKER_URL"):
    raise ImproperlyConfigured("REDIS_URL (or CELERY_BROKER_URL) must be set in production")

if REDIS_URL:
    # Degrades to a miss while Redis is unreachable (customer360/cache.py): no page fails with it.
    CACHES = {
        "default": {
            "BACKEND": "customer360.cache.DegradingRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1, "retry_on_timeout": False},
        }
    }
else:
    # Shared between the web server and the worker processes of the embedded mode.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

BROKER_DIR = VAR_DIR / "broker"
# The embedded broker: kombu's filesystem transport (the host part only silences kombu's warning).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "filesystem://localhost//"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Time limits (README "Operations: Celery"): every task ends within C360_LONG_TASK_TIME_LIMIT at the
# latest; longer work is split into tasks of its own (import chunks, scoring chunks, one training
# task per action), never given an hour.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
C360_LONG_TASK_SOFT_TIME_LIMIT = env_int("C360_LONG_TASK_SOFT_TIME_LIMIT", 840)
C360_LONG_TASK_TIME_LIMIT = env_int("C360_LONG_TASK_TIME_LIMIT", 900)
# Redis redelivers a task that is not acknowledged within the visibility timeout (late acks), even
# while the first delivery still runs. It must therefore be longer than every task's hard time
# limit, so only a task whose worker died is delivered again, never one that is still running.
C360_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 2 * C360_LONG_TASK_TIME_LIMIT)
if max(CELERY_TASK_TIME_LIMIT, C360_LONG_TASK_TIME_LIMIT) >= C360_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must be longer than every task time limit "
        "(CELERY_TASK_TIME_LIMIT, C360_LONG_TASK_TIME_LIMIT), or a running task is delivered twice"
    )
if CELERY_BROKER_URL.startswith("redis"):
    # A publish during a Redis outage fails within seconds (the change is then kept in the database,
    # see customer360/outbox.py) instead of holding the request.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": C360_VISIBILITY_TIMEOUT,
        # How often a worker looks for tasks of a dead worker whose visibility timeout has passed.
        "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
        "unacked_restore_throttle": env_int("CELERY_UNACKED_RESTORE_THROTTLE", 10),
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
    CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Auth ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out account or address before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "customer360.auth.PermissionBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "customer360:customer_list"
LOGOUT_REDIRECT_URL = "login"

# Sign-in and sessions (README "Sign-in and sessions"). Lockout: after C360_LOGIN_FAILURE_LIMIT
# failed sign-ins for one username OR from one address, sign-in is refused for the cool-off time.
AXES_FAILURE_LIMIT = env_int("C360_LOGIN_FAILURE_LIMIT", 10)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = timedelta(minutes=env_int("C360_LOGIN_LOCKOUT_MINUTES", 30))
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # each failure is a row in the admin (never the password)
AXES_VERBOSE = False  # our own "customer360.security" lines say what matters
AXES_LOCKOUT_CALLABLE = "customer360.signin.views.locked_out"
# Behind C360_TRUSTED_PROXY_COUNT reverse proxies the client address is the n-th from the right
# in X-Forwarded-For (each proxy appends the address it saw); 0 reads REMOTE_ADDR only.
C360_TRUSTED_PROXY_COUNT = env_int("C360_TRUSTED_PROXY_COUNT", 1 if PRODUCTION else 0)
AXES_CLIENT_IP_CALLABLE = "customer360.signin.security_log.client_ip"
# Sessions end after C360_SESSION_MAX_AGE seconds in any case and after C360_SESSION_IDLE_TIMEOUT
# seconds without a request. The last-seen time is written at most once a minute (no session write
# per page view).
C360_SESSION_MAX_AGE = env_int("C360_SESSION_MAX_AGE", 8 * 3600)
C360_SESSION_IDLE_TIMEOUT = env_int("C360_SESSION_IDLE_TIMEOUT", 30 * 60)
C360_SESSION_TOUCH_INTERVAL = 60
SESSION_COOKIE_AGE = C360_SESSION_MAX_AGE
OTP_TOTP_ISSUER = env_str("C360_TOTP_ISSUER", "Customer 360")
PASSWORD_RESET_TIMEOUT = env_int("C360_PASSWORD_RESET_TIMEOUT", 3600)

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Vienna")
# The company's currency: imported orders in other currencies are converted into it (crm exchange rates).
C360_BASE_CURRENCY = env_str("C360_BASE_CURRENCY", "EUR").upper()
USE_I18N = True
USE_TZ = True
# One format per language for dates, times and numbers (customer360/formats/<lang>/formats.py);
# customer360.formatting formats values in Python with them (templates, charts, CSV, e-mails).
FORMAT_MODULE_PATH = ["customer360.formats"]

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploads, error files, import work copies, subject exports and trained models go through the storage
# API (customer360/files): "filesystem" (MEDIA_ROOT; embedded mode, or one host), "database" (rows in
# PostgreSQL; several hosts with nothing shared but the database) or "s3" (an S3-compatible store
# through django-storages: pip install '.[s3]', then C360_S3_BUCKET, C360_S3_ENDPOINT_URL,
# C360_S3_REGION and the usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment).
FILE_STORAGE = env_str("C360_FILE_STORAGE", "filesystem")
_FILE_BACKENDS = {
    "filesystem": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "database": {"BACKEND": "customer360.files.storage.DatabaseStorage"},
    "s3": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("C360_S3_BUCKET"),
            "endpoint_url": env_str("C360_S3_ENDPOINT_URL") or None,
            "region_name": env_str("C360_S3_REGION") or None,
            "location": env_str("C360_S3_PREFIX", "customer360"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    },
}
if FILE_STORAGE not in _FILE_BACKENDS:
    raise ImproperlyConfigured(
        f"C360_FILE_STORAGE must be one of {', '.join(_FILE_BACKENDS)}, not {FILE_STORAGE!r}"
    )
if FILE_STORAGE == "s3" and not env_str("C360_S3_BUCKET"):
    raise ImproperlyConfigured("C360_FILE_STORAGE=s3 needs C360_S3_BUCKET")
STORAGES = {
    "default": _FILE_BACKENDS[FILE_STORAGE],
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
# Embedded mode serves static files straight from the apps (no collectstatic step); production
# serves the collected, compressed and hashed copies.
WHITENOISE_USE_FINDERS = DEBUG or EMBEDDED
WHITENOISE_AUTOREFRESH = DEBUG

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that an anonymous API client gets 401 with "WWW-Authenticate: Bearer".
        "customer360.api.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # One permission class and one exception handler for every app (customer360/api); a personal
    # API token reaches only the areas its scopes name.
    "DEFAULT_PERMISSION_CLASSES": [
        "customer360.api.permissions.ModelPermission",
        "customer360.api.tokens.TokenScopePermission",
    ],
    "EXCEPTION_HANDLER": "customer360.api.errors.exception_handler",
    # JSON only: one request format, the one the schema declares (form encodings turned "0" into False).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_FILTER_BACKENDS": ["customer360.api.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "customer360.api.schema.AutoSchema",
    # Rate limits (README "Rate limits"): per client IP for anonymous requests, per user for signed-in
    # ones, counted in the cache (Redis in production); 429 with Retry-After above them. The ingestion
    # API has its own throttles (C360_SOURCE_API_RATE, C360_WEBHOOK_IP_RATE below).
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("C360_API_ANON_RATE", "300/min"),
        "user": env_rate("C360_API_USER_RATE", "1200/min"),
    },
    # The client IP is REMOTE_ADDR; X-Forwarded-For counts only behind that many trusted reverse
    # proxies (DRF's default None would take the header from anyone, and a forged one evades throttles).
    "NUM_PROXIES": C360_TRUSTED_PROXY_COUNT,  # the same trusted proxies as sign-in (above)
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Customer 360 API",
    "DESCRIPTION": "One shared customer model and timeline for sales, service, marketing and dunning.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI and ReDoc from our own static files (drf-spectacular-sidecar): no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets of the same name in several apps get names of their own in the schema.
    "ENUM_NAME_OVERRIDES": {
        "MarketingChannelEnum": "marketing.models.ConsentChannel",
        "MarketingPurposeEnum": "marketing.models.Purpose",
        "ConsentStatusEnum": "marketing.models.Consent.Status",
        "ConsentMethodEnum": "marketing.models.Consent.Method",
        "CampaignStatusEnum": "marketing.models.Campaign.Status",
        "TouchStatusEnum": "marketing.models.Touch.Status",
        "ActivityKindEnum": "crm.models.Activity.Kind",
        "ActivityOutcomeEnum": "crm.models.Activity.Outcome",
        "DealStatusEnum": "crm.models.Deal.Status",
        "ContractStatusEnum": "crm.models.Contract.Status",
        "TicketStatusEnum": "crm.models.Ticket.Status",
        "TicketCategoryEnum": "crm.models.Ticket.Category",
        "TicketPriorityEnum": "crm.models.Priority",
        "ChannelEnum": "customer360.models.Channel",
        "DepartmentEnum": "customer360.models.Department",
        "CustomerKindEnum": "customer360.models.Customer.Kind",
        "RecommendationStatusEnum": "insights.models.Recommendation.Status",
        "RecommendationOutcomeEnum": "insights.models.Recommendation.Outcome",
        "DismissReasonEnum": "insights.models.Recommendation.DismissReason",
        "CollabDepartmentEnum": "collab.departments.CHOICES",
        "CollabSpaceKindEnum": "collab.models.Space.Kind",
        "CollabRequestKindEnum": "collab.models.DepartmentRequest.Kind",
        "CollabNotificationKindEnum": "collab.models.Notification.Kind",
        "InvoiceStatusEnum": "billing.models.Invoice.Status",
        "DunningChannelEnum": "billing.models.DunningChannel",
        "PaymentMethodEnum": "billing.models.Payment.Method",
    },
}

# --- Security (production) ----------------------------------------------------------------------
# Sessions live in the database only: a Redis outage must not sign anyone out or fail a page, and a
# session ended (sign-out) while Redis was unreachable must not come back from a stale cache copy.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp), in every run mode: scripts only from our own static files
# (no inline script, no handlers, no eval); plotly and htmx set inline styles, hence 'unsafe-inline'
# for styles only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        # ReDoc runs its search index in a worker it builds from a blob.
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Permissions-Policy (django-permissions-policy): no page of ours needs any of these.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "ambient-light-sensor",
        "autoplay",
        "bluetooth",
        "browsing-topics",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if EMBEDDED
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other: set one of them")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "customer360@localhost")

# Logs carry ids, never names, e-mail addresses or other personal data.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Failed sign-ins, lockouts and second-factor events: username and address, never a password.
        "customer360.security": {"level": "INFO"},
        "axes": {"level": "WARNING"},  # its INFO lines repeat every sign-in
    },
}

# --- Customer 360 -------------------------------------------------------------------------------
# Who sees which customers, per role (README, "Who may see and change what"): "all"; "team" (own,
# team's and unowned customers); "assigned" (customers assigned to the user's department). Everyone
# also sees the customers assigned to them personally. Service answers any caller, so it finds
# every customer; what it sees of one is limited by its permissions (panels, records).
C360_VISIBILITY = {
    "Admin": "all",
    "Manager": "all",
    "Sales": "team",
    "Service": "all",
    "Marketing": "assigned",
    "Accounting": "assigned",
}
C360_VISIBILITY_OVERRIDE = env_str("C360_VISIBILITY_OVERRIDE")  # e.g. "all" for a small company
# Personal API tokens: lifetime offered by default and the longest a user may choose (days).
C360_API_TOKEN_DEFAULT_DAYS = env_int("C360_API_TOKEN_DEFAULT_DAYS", 90)
C360_API_TOKEN_MAX_DAYS = env_int("C360_API_TOKEN_MAX_DAYS", 365)
C360_WORKER_HEARTBEAT_MAX_AGE = env_int("C360_WORKER_HEARTBEAT_MAX_AGE", 120)
# Data sources: largest browser upload (the command line and the file API take any size), rows per
# committed batch, seconds the worker's check of the whole file (started by the preview, never in the
# web request) may read before it reports the rows it checked: below the check task's soft time limit
# (240 s), so a huge file gets a partial check instead of a failure; bulk API requests per source.
C360_IMPORT_MAX_BYTES = env_int("C360_IMPORT_MAX_BYTES", 50 * 1024 * 1024)
C360_PREVIEW_CHECK_SECONDS = env_int("C360_PREVIEW_CHECK_SECONDS", 180)
C360_IMPORT_BATCH_SIZE = env_int("C360_IMPORT_BATCH_SIZE", 2000)
# Chunked imports: rows per chunk (one transaction each), seconds of chunk work per task before it
# hands over to a fresh task, the queue of import tasks, and after how many minutes without progress
# the beat task re-claims a running import (its worker is gone).
C360_IMPORT_CHUNK_ROWS = env_int("C360_IMPORT_CHUNK_ROWS", 10_000)
# Training examples per learned outcome, at most: beyond it a seeded sample stratified by label (the
# base rate stays true), so a training run's memory does not grow with the number of customers.
C360_TRAINING_MAX_EXAMPLES = env_int("C360_TRAINING_MAX_EXAMPLES", 30_000)
C360_IMPORT_TASK_SECONDS = env_int("C360_IMPORT_TASK_SECONDS", 60)
C360_IMPORT_QUEUE = env_str("C360_IMPORT_QUEUE") or "default"
# The queue of a full rescoring's chunks: give it a worker of its own (docker-compose's
# worker-rescoring), so that a rescoring of every customer never delays the one a new event asks for.
C360_RESCORING_QUEUE = env_str("C360_RESCORING_QUEUE") or "default"
C360_IMPORT_STALLED_MINUTES = env_int("C360_IMPORT_STALLED_MINUTES", 5)
# A full rescoring with no finished chunk for this long gets its open chunks sent again (beat); after
# the broker's own redelivery (the visibility timeout), so only tasks the broker lost are sent twice.
C360_SCORING_STALLED_SECONDS = env_int("C360_SCORING_STALLED_SECONDS", C360_VISIBILITY_TIMEOUT + 60)
# .xlsx caps: cells (rows x columns) and the workbook's total uncompressed size.
C360_XLSX_MAX_CELLS = env_int("C360_XLSX_MAX_CELLS", 20_000_000)
C360_XLSX_MAX_UNCOMPRESSED = env_int("C360_XLSX_MAX_UNCOMPRESSED", 300 * 1024 * 1024)
C360_SOURCE_API_RATE = env_rate("C360_SOURCE_API_RATE", "120/min")
# Webhooks: requests per client IP (counted before the signature check; the per-source rate above
# counts only verified deliveries) and the largest body (413 from Content-Length, before reading it).
C360_WEBHOOK_IP_RATE = env_rate("C360_WEBHOOK_IP_RATE", "600/min")
C360_WEBHOOK_MAX_BYTES = env_int("C360_WEBHOOK_MAX_BYTES", 10 * 1024 * 1024)
# Key of the suppression list's HMAC (erased people's identifiers); derived from SECRET_KEY when
# unset. Set it once and keep it: a new key makes the list match nobody.
C360_SUPPRESSION_KEY = env_str("C360_SUPPRESSION_KEY") or ""
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int(
    "DATA_UPLOAD_MAX_MEMORY_SIZE", 20 * 1024 * 1024
)  # 10,000-row API requests


# --- Audit: change history, access log, retention (README "Audit") -------------------------------
# History rows carry their context (user, path, URL, import run, task) in a JSON column of their own:
# no shared context row is written per statement, which keeps bulk writes fast.
PGHISTORY_CONTEXT_FIELD = pghistory.ContextJSONField()
# History rows keep no foreign key to the tracked row (it may be deleted) and add no reverse accessor.
PGHISTORY_OBJ_FIELD = pghistory.ObjForeignKey(related_name="+", related_query_name="+")
# Days each kind is kept; 0 keeps it forever. Enforced by the nightly retention task.
C360_RETENTION_DAYS = {
    "uploads": env_int("C360_RETENTION_UPLOADS_DAYS", 90),
    "error_files": env_int("C360_RETENTION_ERROR_FILES_DAYS", 30),
    "sessions": env_int("C360_RETENTION_SESSIONS_DAYS", 30),
    "access_log": env_int("C360_RETENTION_ACCESS_LOG_DAYS", 2 * 365),
    "change_history": env_int("C360_RETENTION_CHANGE_HISTORY_DAYS", 10 * 365),
    "closed_customer_events": env_int("C360_RETENTION_CLOSED_CUSTOMER_EVENTS_DAYS", 3 * 365),
}
# An export's access-log row names at most this many customers (and always the full count).
C360_ACCESS_LOG_MAX_IDS = env_int("C360_ACCESS_LOG_MAX_IDS", 100_000)
# A page view's (or a one-customer API read's) access-log row commits without waiting for the disk
# (customer360/audit/access.py); true: every row waits for its WAL flush, as exports always do.
C360_ACCESS_LOG_SYNCHRONOUS_COMMIT = env_bool("C360_ACCESS_LOG_SYNCHRONOUS_COMMIT", False)


def _plotly_static_dir() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data"


# plotly.js as shipped by the plotly package, served from our own static files (no CDN).
STATICFILES_DIRS.append(("plotly", _plotly_static_dir()))
