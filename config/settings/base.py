"""Settings shared by every environment; each value that varies comes from the environment."""
import os
from pathlib import Path

import dj_database_url
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("PREFLOOP_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "annotation",
    # The synthetic world: only its management commands (`demo`, `loop`); no models.
    "simulation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A database connection error in a view answers 503 + Retry-After, not 500.
    "annotation.api.unavailable.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# The embedded default is a SQLite file, so `make run` needs no server.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'prefloop.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Writers take SQLite's lock at BEGIN, so concurrent requests (next/submit) queue for it
    # instead of failing with "database is locked" when a reader upgrades to a writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(transaction_mode="IMMEDIATE", timeout=20)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "static"))
# The built single-page app (frontend/dist) is served by whitenoise; no Node server at run time.
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
STATICFILES_DIRS = [FRONTEND_DIST] if FRONTEND_DIST.exists() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Where datasets, checkpoints and reports of the training loop are written.
ARTIFACT_ROOT = Path(os.environ.get("ARTIFACT_ROOT", VAR_DIR / "artifacts"))
# Directories (comma separated) a project's base policy or reward backbone may point into, besides
# ARTIFACT_ROOT and the built-in models' packages (annotation/services/training_settings.py).
MODEL_ROOTS = env_list("MODEL_ROOTS", "")
# How long after submitting an annotator may undo (replace) a judgement.
JUDGEMENT_UNDO_SECONDS = int(os.environ.get("JUDGEMENT_UNDO_SECONDS", 30))
# The annotate loop's statements are prepared once per database connection (PostgreSQL then skips
# planning them: half its CPU per request). Set 0 behind a transaction-mode pooler (PgBouncer < 1.21).
HOT_PATH_PREPARED_STATEMENTS = env_bool("HOT_PATH_PREPARED_STATEMENTS", True)
# On PostgreSQL, `next` and a plain submit run as one SQL function call each
# (`annotation/hot_path/sql/annotate_loop.sql`) instead of the Python services' 5-6 statements; 0 turns it off.
HOT_PATH_SQL_FUNCTIONS = env_bool("HOT_PATH_SQL_FUNCTIONS", True)
# Connections per worker process for those calls under `config.asgi` (its front's own pool).
HOT_PATH_POOL_SIZE = int(os.environ.get("HOT_PATH_POOL_SIZE", 2))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's TokenAuthentication, answering the same, with the token and user read by one SQL statement.
        "annotation.api.authentication.FastTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "annotation.api.errors.exception_handler",
    # Imports of a few thousand lines fit; the cap stops a runaway client, not a real user.
    "DEFAULT_THROTTLE_CLASSES": [],
    # Proxies in front of the web server whose X-Forwarded-For is trusted for the client address
    # (0: REMOTE_ADDR; a client could otherwise pick its own address and dodge the sign-in limit).
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", 0)),
}
# Request bodies other than uploaded files (e.g. an import's JSON records list).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", 64 * 1024 * 1024))
# Uploaded files: bigger ones spool to a temporary file instead of memory (Django's default) ...
FILE_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("FILE_UPLOAD_MAX_MEMORY_SIZE", 2621440))
# ... and a multipart body over IMPORT_MAX_UPLOAD_BYTES is refused with 413 as it arrives
# (DATA_UPLOAD_MAX_MEMORY_SIZE does not count files).
FILE_UPLOAD_HANDLERS = [
    "annotation.api.uploads.UploadSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Bounds on one import file (docs/api.md, "Imports"). A gzip file is unpacked as it is read, so
# memory stays at one line; these bound the time and rows one request can take.
IMPORT_MAX_UPLOAD_BYTES = int(os.environ.get("IMPORT_MAX_UPLOAD_BYTES", 64 * 1024 * 1024))
IMPORT_MAX_DECOMPRESSED_BYTES = int(os.environ.get("IMPORT_MAX_DECOMPRESSED_BYTES", 512 * 1024 * 1024))
IMPORT_MAX_LINES = int(os.environ.get("IMPORT_MAX_LINES", 200_000))
# Eight responses of 100,000 four-byte characters fit (importers.MAX_TEXT_CHARS per text).
IMPORT_MAX_LINE_BYTES = int(os.environ.get("IMPORT_MAX_LINE_BYTES", 4 * 1024 * 1024))

# --- Signing in ---------------------------------------------------------------------------------
# Failed sign-ins allowed per client address and per username in each window
# (`annotation.api.throttles`); a successful one is not counted. DRF's rate format: N/s|min|hour|day.
SIGN_IN_THROTTLE_RATES = {
    "address": os.environ.get("SIGN_IN_RATE_PER_ADDRESS", "10/min"),
    "username": os.environ.get("SIGN_IN_RATE_PER_USERNAME", "10/min"),
}
# API tokens (`POST /api/auth/token/`) stop working this long after they were issued; asking again
# then issues a new one. The browser uses a session cookie instead (SESSION_COOKIE_AGE).
API_TOKEN_TTL_SECONDS = int(os.environ.get("API_TOKEN_TTL_SECONDS", 7 * 24 * 3600))

# The sign-in counts must be shared by every web process: Redis when configured, else files.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"],
         "KEY_PREFIX": "prefloop"}
        if os.environ.get("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")}
    )
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Prefloop API",
    "DESCRIPTION": "Preference annotation and the RLHF training loop.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Two serializers offer the algorithm choices; one name keeps the schema free of collisions.
    "ENUM_NAME_OVERRIDES": {"ProjectAlgorithmEnum": "annotation.models.project.Project.Algorithm"},
    # Swagger UI from the pinned drf-spectacular-sidecar package, served as static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The error answers (400/401/403/404/409/503) of every operation, as annotation.api.schema documents them.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "annotation.api.schema.document_error_answers",
    ],
}

# The pages Prefloop renders itself (the single-page app, Swagger UI) load everything from this
# origin and run no inline script or style (`annotation.api.csp`); "" sends no policy.
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)

# --- Celery -----------------------------------------------------------------------------------
# Redis when configured; otherwise kombu's filesystem transport, which needs no server.
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = os.environ.get(
    "CELERY_RESULT_BACKEND", REDIS_URL or f"file://{VAR_DIR / 'celery-results'}"
)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        # Remote control (inspect, ping, revoke); kombu's default is ./control in the working dir.
        "control_folder": str(VAR_DIR / "broker-control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    # Longer than the task time limit: Redis redelivers an unacknowledged (acks_late) message
    # after this long, and a redelivered training step would only find its job already running.
    else {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", 13 * 3600))}
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("default"), Queue("gpu"))
# Training runs for hours on real models; the 5-minute limits of project templates would kill it.
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", 12 * 3600))
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", 11 * 3600))
CELERY_RESULT_EXPIRES = 7 * 24 * 3600
CELERY_TIMEZONE = "UTC"
# Training and generation go to the `gpu` queue (the gpu-worker); every other task, including
# those the web process sends by name, goes to CELERY_TASK_DEFAULT_QUEUE.
CELERY_TASK_ROUTES = {"workers.run_gpu_step": {"queue": "gpu"}, "workers.generate_responses_chunk": {"queue": "gpu"}}
CELERY_BEAT_SCHEDULE = {
    "check-projects": {"task": "workers.check_projects", "schedule": 60.0},
    "fail-stale-training-jobs": {"task": "workers.fail_stale_training_jobs", "schedule": 60.0},
    "record-evaluations": {"task": "workers.record_evaluations", "schedule": 60.0},
}

# --- The training loop --------------------------------------------------------------------------
# A running step whose heartbeat is older than this is marked failed by the watchdog (the worker
# died). The runner beats every few seconds while its subprocess lives, so minutes are plenty.
TRAINING_HEARTBEAT_TIMEOUT = int(os.environ.get("TRAINING_HEARTBEAT_TIMEOUT", 600))
# How often the watchdog queues such a step again before failing it: once covers a lost node or an
# OOM kill by a neighbour; a step that kills its worker every time still stops and is reported.
TRAINING_WORKER_LOST_RETRIES = int(os.environ.get("TRAINING_WORKER_LOST_RETRIES", 1))
# A live iteration with no running step and no change for this long is queued again (a lost
# message); a duplicate is harmless, so this only bounds how long a lost one can delay it.
TRAINING_STALL_SECONDS = int(os.environ.get("TRAINING_STALL_SECONDS", 900))
TRAINING_DEVICE = os.environ.get("TRAINING_DEVICE", "auto")
# CPU threads of a background response generation's sampling process (the real-model demo's):
# it shares the machine with the web server and other work. On 2 busy cores one thread sampled
# SmolLM2 6x faster than two (21.5 s against 132 s for 4 responses of 48 tokens; torch's threads
# spin-wait for a core), and it leaves the other core to the web. 0: torch's default.
GENERATION_CPU_THREADS = int(os.environ.get("GENERATION_CPU_THREADS", 1))
# When set, GPU training commands run under `accelerate launch --config_file <this>`.
ACCELERATE_CONFIG_FILE = os.environ.get("ACCELERATE_CONFIG_FILE", "")
# Processes per training step (one per GPU) for projects that set none; 0: every GPU the worker
# sees when it has several, else one plain process.
TRAINING_NUM_PROCESSES = int(os.environ.get("TRAINING_NUM_PROCESSES", 0))
# The most processes a project may ask for (a project's `training_processes`).
TRAINING_MAX_PROCESSES = int(os.environ.get("TRAINING_MAX_PROCESSES", 8))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
