"""PeaceWatch settings: the one place configuration is read, from the environment.

Unset variables mean the embedded default (SQLite under ``var/``, the Tansu
broker on 127.0.0.1:9092, the embedded analytics store, no Redis), so a fresh
clone runs with none of them. Every variable is documented once, in
``docker/.env.example``.
"""

from __future__ import annotations

import os
import sys
import zoneinfo
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE as CSP_NONE
from csp.constants import SELF as CSP_SELF
from django.core.exceptions import ImproperlyConfigured

from peacewatch.city import DEMO_CITY_BOUNDS, parse_bounds, parse_tile_url, tile_origin
from peacewatch.env import env_bool, env_float, env_int, env_list, env_str, env_url, secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything PeaceWatch writes (databases with password hashes and live sessions, reports, exports,
# the archive, metrics, keys) is its own user's alone: 0600 files, 0700 directories.
os.umask(0o077)
VAR_DIR = Path(env_str("PEACEWATCH_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)
if VAR_DIR.stat().st_uid == os.getuid():
    VAR_DIR.chmod(0o700)  # made earlier with a laxer mask, or by hand

# --- Django core ----------------------------------------------------------------
# Fail closed: off unless set. `make run` and `make test` set DEBUG=true explicitly.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = secret_key(env_str("SECRET_KEY"), debug=DEBUG, var_dir=VAR_DIR)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # daphne's app only makes `manage.py runserver` serve ASGI (WebSockets). Anywhere else (daphne
    # itself, the consumers, Celery, migrate) it would import Twisted for nothing, and a consumer
    # started again after a crash would be reading later.
    *(["daphne"] if sys.argv[1:2] == ["runserver"] else []),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "peacewatch",
    "ingest",
    "alerts",
    "analytics",
]

# Under ASGI, Django's own middlewares (MiddlewareMixin) run each hook in a thread once the chain
# is async, one thread switch per hook, while a sync chain runs them all in the request's one
# thread. The lowest sync-only middleware decides: from it up, Django runs every middleware that
# can be sync as sync. Ours below (sync only: they read request.user, which is sync) sit under
# Django's, so the chain is sync from the top to just above Axes: one switch into the request's
# thread, one back out for Axes (async-capable) and the async views.
MIDDLEWARE = [
    # First: every response, errors included, carries the id the logs know the request by.
    "peacewatch.errors.RequestIdMiddleware",
    # Right inside it: every error under /api/ is an RFC 9457 problem, whoever answered it.
    "peacewatch.problems.ApiProblemsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Once the user is known: a session past its shift or idle signs out here,
    "peacewatch.sessions.SessionLimitsMiddleware",
    # and staff without a verified second factor reach only its set-up page. Both sync only and
    # below Django's own middlewares, on purpose (see above).
    "peacewatch.second_factor.SecondFactorMiddleware",
    # Last: turns a sign-in refused by the lockout backend into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "peacewatch.urls"
WSGI_APPLICATION = "peacewatch.wsgi.application"
ASGI_APPLICATION = "peacewatch.asgi.application"

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
                "peacewatch.navigation.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------
# SQLite in WAL mode lets the web server and the consumers (separate processes)
# read while one of them writes; IMMEDIATE transactions take the write lock at
# BEGIN so two writers queue on busy_timeout instead of failing mid-transaction.
_SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
    "transaction_mode": "IMMEDIATE",
}


def _database_pool(mode: str) -> bool:
    """DB_POOL: ``web`` (the default) pools the web server's connections only, ``true`` every
    process's, ``false`` none."""
    mode = mode.strip().lower() or "web"
    if mode not in {"web", "true", "false"}:
        raise ImproperlyConfigured(f"DB_POOL={mode!r}: use web, true or false")
    return mode == "true" or (mode == "web" and "daphne.server" in sys.modules)


_database_url = env_url("DATABASE_URL", schemes=("sqlite", "postgres", "postgresql", "pgsql"))
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = dict(_SQLITE_OPTIONS)
    elif _database_pool(env_str("DB_POOL", "web")):
        # The web server's, by default (DB_POOL=web). Under ASGI every request runs its sync code
        # in a thread of its own, so a persistent connection (CONN_MAX_AGE) is never reused: each
        # request opened a new PostgreSQL connection. A psycopg pool hands them out instead, checked
        # on the way out so that a database restart costs a reconnect, not an error; a full pool
        # makes a request wait up to DB_POOL_TIMEOUT seconds rather than open connection number
        # max_connections + 1. Not the other processes' default: a thread that ends without closing
        # its connection (Django closes them at the end of a request, nothing else does) keeps it
        # from the pool for good, while their long-lived threads reuse persistent connections.
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django refuses both
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # with a pool: checked as handed out
        DATABASES["default"]["OPTIONS"] = {
            "pool": {
                "min_size": env_int("DB_POOL_MIN_SIZE", 1),
                "max_size": env_int("DB_POOL_MAX_SIZE", 20),
                "timeout": env_int("DB_POOL_TIMEOUT", 10),
            }
        }
    else:
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "peacewatch.sqlite3",
            "OPTIONS": dict(_SQLITE_OPTIONS),
            # Keep connections: a consumer reopening SQLite every batch starts
            # each batch with a cold page cache (measured 6x slower alerts writes).
            "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 600),
            # A file (not :memory:) so that consumer processes started by tests
            # share the test database; pytest-django suffixes it per xdist worker.
            "TEST": {"NAME": str(VAR_DIR / "test-peacewatch.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out sign-in before any password is checked.
    "peacewatch.auth.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login rate limiting (django-axes): after LOGIN_FAILURE_LIMIT failed sign-ins for one
# username from one address, that pair is refused (429) for LOGIN_LOCKOUT_MINUTES.
# Per pair, not per address (a police station shares one NAT address) nor per username
# (anyone could lock an officer out). Attempts live in the database, so the limit holds
# across processes with or without Redis.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# And every username's failures from one address together (password spraying), to a higher limit.
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 30, minimum=1)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Single sign-on through OpenID Connect (peacewatch/single_sign_on.py): on when OIDC_OP_ISSUER is
# set, and then the provider's endpoints and this client's credentials are required. Local
# accounts stay (the embedded default, break-glass). The endpoints are the provider's discovery
# document's (ISSUER/.well-known/openid-configuration), given explicitly so that start-up never
# waits on the provider.
OIDC_OP_ISSUER = env_url("OIDC_OP_ISSUER", schemes=("https", "http"))
SINGLE_SIGN_ON = bool(OIDC_OP_ISSUER)
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_ROLES_CLAIM = env_str("OIDC_ROLES_CLAIM", "roles")
OIDC_SQUADS_CLAIM = env_str("OIDC_SQUADS_CLAIM", "squads")
OIDC_ROLE_MAP = env_str("OIDC_ROLE_MAP", "")
if SINGLE_SIGN_ON:
    OIDC_OP_AUTHORIZATION_ENDPOINT = env_url("OIDC_OP_AUTHORIZATION_ENDPOINT", schemes=("https", "http"))
    OIDC_OP_TOKEN_ENDPOINT = env_url("OIDC_OP_TOKEN_ENDPOINT", schemes=("https", "http"))
    OIDC_OP_USER_ENDPOINT = env_url("OIDC_OP_USER_ENDPOINT", schemes=("https", "http"))
    OIDC_OP_JWKS_ENDPOINT = env_url("OIDC_OP_JWKS_ENDPOINT", schemes=("https", "http"))
    OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID")
    OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET")
    _needed = ("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_USER_ENDPOINT",
               "OIDC_OP_JWKS_ENDPOINT", "OIDC_RP_CLIENT_ID", "OIDC_RP_CLIENT_SECRET")  # fmt: skip
    _missing = [name for name in _needed if not globals()[name]]
    if _missing:
        raise ImproperlyConfigured(f"OIDC_OP_ISSUER is set, so single sign-on needs {', '.join(_missing)} too")
    AUTHENTICATION_BACKENDS.append("peacewatch.single_sign_on.SingleSignOnBackend")
    OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
    OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", f"openid profile email {OIDC_ROLES_CLAIM} {OIDC_SQUADS_CLAIM}")
    OIDC_TOKEN_USE_BASIC_AUTH = env_bool("OIDC_TOKEN_USE_BASIC_AUTH", False)
    OIDC_USE_PKCE = True
    OIDC_TIMEOUT = 10  # seconds; a provider that hangs fails the sign-in, not the web worker
    LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/?sign_on=failed"

# --- I18N / static --------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# No CDN anywhere: police networks are often closed, every asset is served here.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Production hardening (active when DEBUG is off) -----------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO") else None
SESSION_COOKIE_SECURE = not DEBUG
# A session lasts one shift at most and ends after inactivity (peacewatch/sessions.py).
SESSION_MAX_AGE = env_int("SESSION_MAX_AGE", 12 * 3600, minimum=60)
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 3600, minimum=60)
SESSION_COOKIE_AGE = SESSION_MAX_AGE
# Staff (admins, auditors) need a second factor (peacewatch/second_factor.py).
SECOND_FACTOR_FOR_STAFF = env_bool("SECOND_FACTOR_FOR_STAFF", True)
OTP_TOTP_ISSUER = "PeaceWatch"
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# Probes and scrapers inside the installation speak plain HTTP to the container.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# Content security policy (django-csp): only this origin's files run. Pages have no
# inline script or style (data goes through json_script, behaviour in static/js), so
# neither 'unsafe-inline' nor 'unsafe-eval' is allowed. img-src also allows data:
# because Leaflet blanks the tiles it cancels with a data: GIF.
# connect-src 'self' covers fetch() and the same-origin WebSocket /ws/alerts/.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [CSP_SELF],
        "script-src": [CSP_SELF],
        "style-src": [CSP_SELF],
        "img-src": [CSP_SELF, "data:"],
        "font-src": [CSP_SELF],
        "connect-src": [CSP_SELF],
        "object-src": [CSP_NONE],
        "base-uri": [CSP_SELF],
        "form-action": [CSP_SELF],
        "frame-ancestors": [CSP_NONE],
    }
}

# --- The city and the map under the data (peacewatch/city.py) -----------------------
# The patrolled area, "south,west,north,east": it frames the maps and keeps simulated
# drones in. Default: the demo city, the area of the offline base map's extract.
CITY_BOUNDS = parse_bounds("CITY_BOUNDS", env_str("CITY_BOUNDS", DEMO_CITY_BOUNDS))
# A force's own tile server, as a Leaflet URL template (https://tiles.example/{z}/{x}/{y}.png).
# Unset: the offline base map built at install time from OpenStreetMap data (static/basemap/).
MAP_TILE_URL = parse_tile_url("MAP_TILE_URL", env_str("MAP_TILE_URL"))
MAP_TILE_ATTRIBUTION = env_str("MAP_TILE_ATTRIBUTION")  # plain text, shown in the map's corner
if MAP_TILE_URL:
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"].append(tile_origin(MAP_TILE_URL))

# --- Kafka ----------------------------------------------------------------------
KAFKA_BOOTSTRAP_SERVERS = env_str("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
KAFKA_SECURITY_PROTOCOL = env_str("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
if KAFKA_SECURITY_PROTOCOL not in {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}:
    raise ImproperlyConfigured(f"KAFKA_SECURITY_PROTOCOL={KAFKA_SECURITY_PROTOCOL!r} is not a Kafka security protocol")
KAFKA_SASL_MECHANISM = env_str("KAFKA_SASL_MECHANISM", "PLAIN")
if KAFKA_SASL_MECHANISM not in {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}:
    raise ImproperlyConfigured(f"KAFKA_SASL_MECHANISM={KAFKA_SASL_MECHANISM!r} must be PLAIN or SCRAM-SHA-256/512")
KAFKA_SASL_USERNAME = env_str("KAFKA_SASL_USERNAME")
KAFKA_SASL_PASSWORD = env_str("KAFKA_SASL_PASSWORD")
KAFKA_SSL_CAFILE = env_str("KAFKA_SSL_CAFILE")
# Client certificate and key for brokers that require mutual TLS.
KAFKA_SSL_CERTFILE = env_str("KAFKA_SSL_CERTFILE")
KAFKA_SSL_KEYFILE = env_str("KAFKA_SSL_KEYFILE")
# Idempotent producers (no duplicates on retry) need InitProducerId, which the
# embedded Tansu broker does not implement: on by default only when a real
# cluster is configured. Consumers are idempotent by report id either way.
KAFKA_IDEMPOTENCE = env_bool("KAFKA_IDEMPOTENCE", "KAFKA_BOOTSTRAP_SERVERS" in os.environ)
KAFKA_TOPICS = {
    "reports": env_str("KAFKA_TOPIC_REPORTS", "peacewatch.reports"),
    "alerts": env_str("KAFKA_TOPIC_ALERTS", "peacewatch.alerts"),
    "deadletter": env_str("KAFKA_TOPIC_DEADLETTER", "peacewatch.deadletter"),
}
# Six partitions let up to six processes of each consumer group share the load
# on one machine; production sizes this from throughput (docs/OPERATIONS.md).
# Consumer groups are <prefix>-alerts, <prefix>-indexer...: two installations can share a cluster.
KAFKA_GROUP_PREFIX = env_str("KAFKA_GROUP_PREFIX", "peacewatch")
KAFKA_REPORTS_PARTITIONS = env_int("KAFKA_REPORTS_PARTITIONS", 6, minimum=1)
# Partitions of each topic at creation; one partition keeps alert events in order for every reader.
KAFKA_TOPIC_PARTITIONS = {"reports": KAFKA_REPORTS_PARTITIONS, "alerts": 1, "deadletter": 1}
KAFKA_REPLICATION_FACTOR = env_int("KAFKA_REPLICATION_FACTOR", 1, minimum=1)
# With acks=all, a write is acknowledged once this many replicas hold it: 2 of 3
# survives one broker down without refusing writes (set at topic creation).
KAFKA_MIN_INSYNC_REPLICAS = env_int("KAFKA_MIN_INSYNC_REPLICAS", min(2, KAFKA_REPLICATION_FACTOR), minimum=1)
if KAFKA_MIN_INSYNC_REPLICAS > KAFKA_REPLICATION_FACTOR:
    raise ImproperlyConfigured("KAFKA_MIN_INSYNC_REPLICAS cannot exceed KAFKA_REPLICATION_FACTOR")
# Hours Kafka keeps records (topics created by ensure_topics); 0 leaves the broker's default.
KAFKA_RETENTION_HOURS = env_int("KAFKA_RETENTION_HOURS", 0, minimum=0)
# Embedded broker address used by `manage.py broker` (listens there).
EMBEDDED_BROKER_LISTEN = env_str("EMBEDDED_BROKER_LISTEN", KAFKA_BOOTSTRAP_SERVERS.split(",")[0])

# Consumer runner tuning.
CONSUMER_MAX_BATCH = env_int("CONSUMER_MAX_BATCH", 2000, minimum=1)
CONSUMER_POLL_TIMEOUT_MS = env_int("CONSUMER_POLL_TIMEOUT_MS", 200, minimum=1)
CONSUMER_STATUS_DIR = VAR_DIR / "run"
# How long the broker may hold a fetch waiting for data. It bounds the latency
# an idle consumer adds to a new record (alerts must be fast); lower costs
# more fetch requests when the topic is quiet.
KAFKA_FETCH_MAX_WAIT_MS = env_int("KAFKA_FETCH_MAX_WAIT_MS", 50, minimum=1)
# A consumer killed without leaving its group loses its partitions to the others after this long
# (the broker's group.min.session.timeout.ms, 6 s by default, is the floor); heartbeats 1 s apart.
KAFKA_SESSION_TIMEOUT_MS = env_int("KAFKA_SESSION_TIMEOUT_MS", 6000, minimum=1000)
KAFKA_HEARTBEAT_INTERVAL_MS = env_int("KAFKA_HEARTBEAT_INTERVAL_MS", 1000, minimum=100)
if KAFKA_HEARTBEAT_INTERVAL_MS * 3 > KAFKA_SESSION_TIMEOUT_MS:
    raise ImproperlyConfigured("KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third of KAFKA_SESSION_TIMEOUT_MS")
# Static group membership (Apache Kafka): a stable name per consumer process slot (a StatefulSet pod's
# name, say). A restarted process with the same name takes its partitions back without a rebalance.
# Unset: dynamic membership. Never give two running processes the same name.
CONSUMER_INSTANCE_ID = env_str("CONSUMER_INSTANCE_ID")
# run_consumer does its imports once, then runs the consumer in a forked worker and forks a new one
# at once when it dies (peacewatch/streams/supervisor.py). Off: the consumer runs in the process itself.
CONSUMER_FORK_WORKER = env_bool("CONSUMER_FORK_WORKER", True)

# --- Alerts ---------------------------------------------------------------------
# Initial values only: admins change the live thresholds in the Django admin.
ALERT_THRESHOLD_DEFAULT = env_float("ALERT_THRESHOLD", 20.0, minimum=0)
ALERT_CRITICAL_THRESHOLD_DEFAULT = env_float("ALERT_CRITICAL_THRESHOLD", 10.0, minimum=0)
if ALERT_CRITICAL_THRESHOLD_DEFAULT >= ALERT_THRESHOLD_DEFAULT:
    # Every alert would be critical: the severity would tell officers nothing (AlertSettings.clean says the same).
    raise ImproperlyConfigured("ALERT_CRITICAL_THRESHOLD must be below ALERT_THRESHOLD")
# After a dismissal, the same subject stays quiet this long (AlertSettings holds the live value).
ALERT_DISMISSAL_QUIET_MINUTES_DEFAULT = env_int("ALERT_DISMISSAL_QUIET_MINUTES", 30, minimum=0)

# --- Drone fleet health ---------------------------------------------------------
# Reports come every minute: three silent minutes make a drone offline.
DRONE_OFFLINE_AFTER_S = env_int("DRONE_OFFLINE_AFTER_S", 180, minimum=1)
DRONE_OFFLINE_CHECK_EVERY_S = env_float("DRONE_OFFLINE_CHECK_EVERY_S", 30.0, minimum=1)
# Fleet silence storm: when at least this share of the online fleet, and at least this many drones,
# go quiet at once, the pipeline is the likely cause: one pipeline alert instead of one per drone.
FLEET_SILENCE_STORM_FRACTION = env_float("FLEET_SILENCE_STORM_FRACTION", 0.5, minimum=0.01)
if FLEET_SILENCE_STORM_FRACTION > 1:
    raise ImproperlyConfigured(f"FLEET_SILENCE_STORM_FRACTION={FLEET_SILENCE_STORM_FRACTION} must be at most 1")
FLEET_SILENCE_STORM_MIN_DRONES = env_int("FLEET_SILENCE_STORM_MIN_DRONES", 10, minimum=2)

# --- Drone registry and HTTP ingest ---------------------------------------------
# A drone below this battery level is drawn and filtered as low battery.
DRONE_LOW_BATTERY_PCT = env_float("DRONE_LOW_BATTERY_PCT", 20.0, minimum=0)
# Per-drone token bucket of POST /api/v1/ingest/reports: refill rate and size.
# A drone reports once a minute, so this only stops a runaway or a replay loop.
INGEST_RATE_PER_S = env_float("INGEST_RATE_PER_S", 20.0, minimum=0.01)
INGEST_BURST = env_int("INGEST_BURST", 40, minimum=1)
# How long an ingest request waits for Kafka to acknowledge before answering 503.
INGEST_KAFKA_TIMEOUT_S = env_float("INGEST_KAFKA_TIMEOUT_S", 5.0, minimum=0.1)
# A report's sent_at more than this ahead of its Kafka record time is a fast drone clock:
# the record time is used and the report flagged clock_skew (CONTRACT section 1, Time).
MAX_CLOCK_SKEW_S = env_int("MAX_CLOCK_SKEW_S", 300, minimum=0)

# --- Analytics ------------------------------------------------------------------
ELASTICSEARCH_URL = env_url("ELASTICSEARCH_URL", schemes=("http", "https"))
# auto asks the server; opensearch makes the client send plain application/json.
ELASTICSEARCH_FLAVOR = env_str("ELASTICSEARCH_FLAVOR", "auto")
if ELASTICSEARCH_FLAVOR not in {"auto", "elasticsearch", "opensearch"}:
    raise ImproperlyConfigured(
        f"ELASTICSEARCH_FLAVOR={ELASTICSEARCH_FLAVOR!r} must be auto, elasticsearch or opensearch"
    )
ELASTICSEARCH_API_KEY = env_str("ELASTICSEARCH_API_KEY")
ELASTICSEARCH_USERNAME = env_str("ELASTICSEARCH_USERNAME")
ELASTICSEARCH_PASSWORD = env_str("ELASTICSEARCH_PASSWORD")
ELASTICSEARCH_CA_CERTS = env_str("ELASTICSEARCH_CA_CERTS")
ELASTICSEARCH_VERIFY_CERTS = env_bool("ELASTICSEARCH_VERIFY_CERTS", True)
ELASTICSEARCH_TIMEOUT_S = env_float("ELASTICSEARCH_TIMEOUT_S", 30.0, minimum=1)
ELASTICSEARCH_INDEX_PREFIX = env_str("ELASTICSEARCH_INDEX_PREFIX", "peacewatch")
# One primary shard per ~30-50 GB of a day's index: see docs/ARCHITECTURE.md capacity plan.
ELASTICSEARCH_SHARDS = env_int("ELASTICSEARCH_SHARDS", 1, minimum=1)
ELASTICSEARCH_REPLICAS = env_int("ELASTICSEARCH_REPLICAS", 1, minimum=0)
# Daily indices older than this are dropped by the prune-analytics-indices beat task.
ELASTICSEARCH_RETENTION_DAYS = env_int("ELASTICSEARCH_RETENTION_DAYS", 365, minimum=1)
ELASTICSEARCH_BULK_BYTES = env_int("ELASTICSEARCH_BULK_BYTES", 5 * 1024 * 1024, minimum=1024)
ELASTICSEARCH_BULK_DOCS = env_int("ELASTICSEARCH_BULK_DOCS", 5000, minimum=1)
ANALYTICS_SQLITE_PATH = Path(env_str("ANALYTICS_SQLITE_PATH", str(VAR_DIR / "analytics.sqlite3")))

# --- The archive: every report as Parquet, for years (CONTRACT section 7) ------------
# A local directory, or s3://bucket/prefix on any S3-compatible store; credentials and
# region from the standard AWS_* variables, a non-AWS endpoint from AWS_ENDPOINT_URL.
ARCHIVE_URL = env_str("ARCHIVE_URL", str(VAR_DIR / "archive"))
ARCHIVE_FLUSH_SECONDS = env_float("ARCHIVE_FLUSH_SECONDS", 60.0, minimum=2)
# A search reaching before the index's retention asks the archive, inside the web process: bounded in
# time (then a 400 naming the range, and a pointer to `archive sql`) and in memory (DuckDB spills the
# rest to a scratch directory under PEACEWATCH_VAR_DIR).
# How long closed alerts (with their sightings) and the audit log (with the alert action trail) are kept.
RETENTION_ALERT_DAYS = env_int("RETENTION_ALERT_DAYS", 730, minimum=1)
RETENTION_AUDIT_DAYS = env_int("RETENTION_AUDIT_DAYS", 3650, minimum=1)
# Every search and export says why (analytics/purpose.py); off only where no oversight asks.
ANALYTICS_REQUIRE_PURPOSE = env_bool("ANALYTICS_REQUIRE_PURPOSE", True)
# The zone every time on the analysts' pages is shown in (and custom ranges are typed in): one for the
# whole force, so that two analysts comparing notes read the same clock. An IANA name.
DISPLAY_TIME_ZONE = env_str("DISPLAY_TIME_ZONE", "UTC")
try:
    zoneinfo.ZoneInfo(DISPLAY_TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"DISPLAY_TIME_ZONE={DISPLAY_TIME_ZONE!r} is not an IANA time zone name (such as UTC or Europe/Paris)"
    ) from None
# Words top lists skip besides the built-in English stop words (analytics/stop_words.py), comma separated.
ANALYTICS_STOP_WORDS = env_list("ANALYTICS_STOP_WORDS")
ARCHIVE_SEARCH_TIMEOUT_S = env_float("ARCHIVE_SEARCH_TIMEOUT_S", 60.0, minimum=1)
ARCHIVE_SEARCH_MEMORY_MB = env_int("ARCHIVE_SEARCH_MEMORY_MB", 2048, minimum=256)
AWS_ENDPOINT_URL = env_str("AWS_ENDPOINT_URL")

# --- Redis, channels, celery ----------------------------------------------------
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss"))
if REDIS_URL:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # kombu's filesystem transport: a queue in files, no server, good for one machine.
    CELERY_BROKER_URL = "filesystem://"
    for _folder in ("queue", "processed", "control"):
        (VAR_DIR / "celery" / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "celery" / "queue"),
        "data_folder_out": str(VAR_DIR / "celery" / "queue"),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Published outbox rows are only needed until Kafka has them; keep a day for inspection.
OUTBOX_KEEP_HOURS = env_int("OUTBOX_KEEP_HOURS", 24, minimum=1)
# Analysts' export files (VAR_DIR/exports) are deleted with their rows after this.
EXPORT_KEEP_HOURS = env_int("EXPORT_KEEP_HOURS", 48, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "detect-offline-drones": {"task": "alerts.detect_offline_drones", "schedule": DRONE_OFFLINE_CHECK_EVERY_S},
    "prune-alert-outbox": {"task": "alerts.prune_outbox", "schedule": 3600.0},
    "prune-exports": {"task": "analytics.prune_exports", "schedule": 3600.0},
    # The analytics store's days past ELASTICSEARCH_RETENTION_DAYS, once archived (idempotent, so hourly).
    "prune-analytics-indices": {"task": "analytics.prune_indices", "schedule": 3600.0},
    # The archive's small files of closed hours merged into one per partition (idempotent).
    "compact-archive": {"task": "analytics.compact_archive", "schedule": 3600.0},
    # Closed alerts, action rows and audit entries past their retention periods (analytics/retention.py).
    "apply-retention": {"task": "analytics.apply_retention", "schedule": 86400.0},
}
# Exports run on their own queue, so a million-row export never holds up the
# offline check; `make run` starts one worker per queue, compose one for both.
CELERY_TASK_ROUTES = {"analytics.run_export": {"queue": "exports"}}
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# --- REST framework -------------------------------------------------------------
REST_FRAMEWORK = {
    # Every error an RFC 9457 problem (peacewatch/problems.py).
    "EXCEPTION_HANDLER": "peacewatch.problems.exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: every input of this API is a JSON object (a form could not carry a query).
    "DEFAULT_PARSER_CLASSES": ["peacewatch.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PeaceWatch API",
    "DESCRIPTION": "Alerts, reports, drones and ingest. See CONTRACT.md for the fixed external contract.",
    "VERSION": "1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_INCLUDE_SCHEMA": False,  # the document describes the API, not itself
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ingest.openapi.ingest_endpoint",
        "analytics.openapi.purpose_when_required",
        "peacewatch.openapi.errors_everywhere",
    ],
    # Alerts and drones both have a "status"; name their enums instead of numbering them.
    "ENUM_NAME_OVERRIDES": {
        "AlertStatusEnum": "alerts.models.Alert.Status",
        "DroneStatusEnum": "ingest.models.Drone.Status",
    },
}

# --- Metrics --------------------------------------------------------------------
# Every process (web, consumers, Celery) writes its Prometheus metrics here and
# the web's /metrics merges them (peacewatch/metrics.py). Processes that share
# one /metrics must share this directory (compose: a volume).
PROMETHEUS_MULTIPROC_DIR = Path(env_str("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics"))).resolve()
# Bearer token for /metrics. Unset: only loopback clients and staff sessions may read it.
METRICS_TOKEN = env_str("METRICS_TOKEN")

# --- Logging --------------------------------------------------------------------
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be text or json")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
# aiokafka's own logs (group joins, assignments, coordinator changes): INFO to see a rebalance.
KAFKA_LOG_LEVEL = env_str("KAFKA_LOG_LEVEL", "WARNING").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": "peacewatch.logs.StructuredFormatter", "json": LOG_FORMAT == "json"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "aiokafka": {"level": KAFKA_LOG_LEVEL},
        "kafka": {"level": KAFKA_LOG_LEVEL},
        "daphne": {"level": "WARNING"},
    },
}
