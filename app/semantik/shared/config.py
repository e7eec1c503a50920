"""The one place that reads the environment.

Every service mode asks only for the variables it uses (``REQUIRED_BY_MODE``), so a vecpipe host
needs no database password. ``problems()`` lists every missing, invalid or weak value by name;
``semantik check-config`` prints them and the services refuse to start on any.
"""

from __future__ import annotations

import json
import math
import os
import ssl
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Quantization = Literal["float32", "float16", "int8"]

# What each service mode needs; everything else has a usable default. Its one home is a data file the
# deploy role reads too (roles/semantik/vars/main.yml), so a host missing one fails before any change.
REQUIRED_BY_MODE: dict[str, tuple[str, ...]] = {
    mode: tuple(names)
    for mode, names in json.loads((Path(__file__).parent / "required_by_mode.json").read_text()).items()
}
MODES = tuple(REQUIRED_BY_MODE)
KEYS = ("JWT_SECRET_KEY", "INTERNAL_API_KEY", "QDRANT_API_KEY")
PLACEHOLDERS = (
    "changeme",
    "change-me",
    "change_me",
    "changethis",
    "secret",
    "password",
    "example",
    "placeholder",
    "default",
    "xxxx",
    "todo",
    "replace",
)
MIN_KEY_LENGTH = 32
MIN_PASSWORD_LENGTH = 16
# The certificate and key each server mode serves TLS with: both set, or neither.
TLS_PAIRS = {
    "webui": ("WEBUI_TLS_CERT", "WEBUI_TLS_KEY"),
    "vecpipe": ("VECPIPE_TLS_CERT", "VECPIPE_TLS_KEY"),
    "flower": ("FLOWER_TLS_CERT", "FLOWER_TLS_KEY"),
}
# Modes that call vecpipe through VecpipeClient.
VECPIPE_CLIENTS = ("webui", "worker")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class Settings(BaseSettings):
    # An empty variable counts as unset, as in systemd EnvironmentFile= and docker env files.
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", env_ignore_empty=True)

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("/var/lib/semantik")

    database_url: str | None = None
    db_pool_size: int = Field(20, ge=1, le=1000)
    db_max_overflow: int = Field(40, ge=0, le=1000)
    db_pool_timeout: int = Field(30, ge=1)
    db_pool_recycle: int = Field(3600, ge=-1)
    db_pool_pre_ping: bool = True
    db_echo: bool = False

    redis_url: str | None = None

    # The private CA bundle clients verify vecpipe and rediss:// Redis with (PostgreSQL: sslrootcert in
    # DATABASE_URL). Unset: the system's trust store.
    tls_ca_file: Path | None = None
    # Each server mode serves HTTPS when its certificate and key are both set (TLS_PAIRS).
    webui_tls_cert: Path | None = None
    webui_tls_key: Path | None = None
    vecpipe_tls_cert: Path | None = None
    vecpipe_tls_key: Path | None = None
    flower_tls_cert: Path | None = None
    flower_tls_key: Path | None = None

    jwt_secret_key: str | None = None
    # Short-lived: a stolen access token is worth minutes; refresh tokens rotate and are revocable.
    access_token_expire_minutes: int = Field(15, ge=1, le=1440)
    refresh_token_expire_days: int = Field(30, ge=1)
    # A browser's sign-in on the web page (an HttpOnly cookie); it ends sooner on sign-out.
    web_session_hours: int = Field(12, ge=1, le=720)
    api_key_max_per_user: int = Field(20, ge=1)
    api_key_max_lifetime_days: int = Field(365, ge=1, le=3650)

    # Accounts: closed by default, administrators create users (DESIGN.md, security model).
    allow_registration: bool = False
    # Failed logins allowed per account and per client address within the window, then 429.
    login_max_failures_per_account: int = Field(5, ge=1, le=1000)
    login_max_failures_per_address: int = Field(20, ge=1, le=10000)
    login_window_seconds: int = Field(300, ge=1, le=86400)
    # Password hashes computed at once per webui process (argon2 takes ~64 MiB and ~50 ms each).
    password_hash_concurrency: int = Field(2, ge=1, le=64)
    # The interactive API pages (/docs, /redoc, /openapi.json); unset: on except in production.
    enable_api_docs: bool | None = None

    internal_api_key: str | None = None
    vecpipe_url: str = "http://127.0.0.1:8000"
    vecpipe_timeout: float = Field(30.0, gt=0)

    webui_host: str = "127.0.0.1"
    webui_port: int = Field(8080, ge=1, le=65535)
    webui_workers: int = Field(1, ge=1, le=64)
    # Proxies whose X-Forwarded-For names the client (the lb); comma-separated addresses or "*".
    webui_forwarded_allow_ips: str = "127.0.0.1"

    vecpipe_host: str = "127.0.0.1"
    vecpipe_port: int = Field(8000, ge=1, le=65535)
    # A stopping vecpipe lets the requests it is answering finish for at most this long, then closes
    # the store and exits: its idle TLS connections would otherwise hold it for 30 s (asyncio waits
    # that long for each client's close_notify), while the requests queued for the next one wait.
    vecpipe_stop_grace: float = Field(5.0, gt=0)

    qdrant_host: str | None = None
    qdrant_port: int = Field(6333, ge=1, le=65535)
    qdrant_api_key: str | None = None
    # The server's scheme: https when its service.enable_tls is on (the deployment sets both).
    qdrant_https: bool = False
    qdrant_path: Path | None = None

    default_embedding_model: str = "Qwen/Qwen3-Embedding-0.6B"
    default_quantization: Quantization = "float16"
    use_mock_embeddings: bool = False

    document_allowed_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)

    flower_basic_auth: str | None = None
    flower_host: str = "127.0.0.1"
    flower_port: int = Field(5555, ge=1, le=65535)
    flower_url_prefix: str = ""

    # How the services log (shared/logs.py): one JSON object per line on the hosts, plain text here.
    log_format: Literal["json", "text"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Prometheus metrics (shared/metrics.py): each service on a port of its own; 0 serves none.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(0, ge=0, le=65535)

    # Worker and beat (see worker/celery_app.py for how each is used).
    worker_concurrency: int = Field(2, ge=1, le=64)
    worker_soft_time_limit: int = Field(6 * 3600, ge=1)
    worker_time_limit: int = Field(6 * 3600 + 300, ge=2)
    worker_max_retries: int = Field(5, ge=0, le=50)
    worker_retry_backoff_max: int = Field(600, ge=1)
    # On SIGTERM a worker takes no new task and lets a running operation go on this long, then hands it
    # back to the queue (unacknowledged) for another worker, or itself restarted, to resume. The unit's
    # TimeoutStopSec must outlast it (grace + 30 s).
    worker_stop_grace: float = Field(20.0, ge=0)
    # Large batches matter: the model pads every batch to its longest text, and only a request with
    # many chunks lets vecpipe group similar lengths (bench/ingest.py; 32 documents cost 17% more).
    ingest_batch_documents: int = Field(256, ge=1, le=1000)
    # A batch's files held in memory; two batches at once (one embedding while the next is parsed).
    ingest_batch_mb: float = Field(64.0, gt=0)
    ingest_embed_batch: int = Field(256, ge=1, le=1000)
    ingest_vecpipe_timeout: float = Field(600.0, gt=0)
    max_document_size_mb: float = Field(25.0, gt=0)
    # One hostile file must not multiply the work: each limit fails that document, not the operation.
    max_chunks_per_document: int = Field(20000, ge=1)
    max_pdf_pages: int = Field(5000, ge=1)
    parse_timeout_seconds: float = Field(120.0, gt=0)
    operation_stuck_minutes: float = Field(60.0, gt=0)
    operation_orphan_grace_seconds: float = Field(30.0, ge=0)
    operation_max_attempts: int = Field(8, ge=1, le=100)
    beat_sync_check_seconds: float = Field(60.0, ge=1)
    beat_reap_seconds: float = Field(60.0, ge=1)
    beat_result_cleanup_seconds: float = Field(3600.0, ge=1)
    task_result_retention_hours: float = Field(24.0, gt=0)

    @field_validator("worker_time_limit")
    @classmethod
    def _hard_after_soft(cls, hard: int, info: ValidationInfo) -> int:
        soft = info.data.get("worker_soft_time_limit")
        if soft is not None and hard <= soft:
            raise ValueError("must be greater than WORKER_SOFT_TIME_LIMIT")
        return hard

    @field_validator("document_allowed_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.replace(",", ":").split(":") if part.strip()]
        return value

    @field_validator("document_allowed_roots")
    @classmethod
    def _absolute_roots(cls, roots: list[Path]) -> list[Path]:
        relative = [str(root) for root in roots if not root.is_absolute()]
        if relative:
            raise ValueError(f"roots must be absolute paths, got {', '.join(relative)}")
        return roots

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, url: str | None) -> str | None:
        if url is not None and urlsplit(url).scheme not in ("postgresql", "postgresql+psycopg2"):
            raise ValueError("must be a postgresql:// URL")
        return url

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, url: str | None) -> str | None:
        if url is not None and urlsplit(url).scheme not in ("redis", "rediss"):
            raise ValueError("must be a redis:// or rediss:// URL")
        return url

    @property
    def sqlalchemy_url(self) -> str:
        if not self.database_url:
            raise RuntimeError("DATABASE_URL is not set")
        # Only the scheme changes: the query (sslmode, sslrootcert) reaches libpq as it is.
        return self.database_url.replace("postgresql://", "postgresql+psycopg2://", 1)

    def redis_tls(self) -> dict[str, object]:
        """redis-py's TLS arguments for a rediss:// REDIS_URL (none for redis://): the certificate and
        the host name are verified, against TLS_CA_FILE when set. Celery takes the same dict as
        broker_use_ssl and redis_backend_use_ssl; kombu refuses rediss:// without ssl_cert_reqs."""
        if not self.redis_url or urlsplit(self.redis_url).scheme != "rediss":
            return {}
        options: dict[str, object] = {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_check_hostname": True}
        if self.tls_ca_file:
            options["ssl_ca_certs"] = str(self.tls_ca_file)
        return options


def weakness(secret: str, minimum: int) -> str | None:
    """Why ``secret`` is too weak for production, or None."""
    lowered = secret.lower()
    if any(word in lowered for word in PLACEHOLDERS):
        return "looks like a placeholder"
    if len(secret) < minimum:
        return f"shorter than {minimum} characters"
    counts = Counter(secret)
    entropy = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    if entropy < 3.5:
        return f"low entropy ({entropy:.1f} bits per character)"
    return None


def _secrets(settings: Settings) -> dict[str, tuple[str, int]]:
    """Every secret that is set, by variable name, with its minimum length."""
    found = {name: (getattr(settings, name.lower()), MIN_KEY_LENGTH) for name in KEYS}
    for name in ("DATABASE_URL", "REDIS_URL"):
        url = getattr(settings, name.lower())
        if url and urlsplit(url).password:
            found[f"{name} password"] = (urlsplit(url).password, MIN_PASSWORD_LENGTH)
    if settings.flower_basic_auth:
        found["FLOWER_BASIC_AUTH password"] = (
            settings.flower_basic_auth.partition(":")[2],
            MIN_PASSWORD_LENGTH,
        )
    return {name: value for name, value in found.items() if value[0]}


def problems(settings: Settings, modes: tuple[str, ...] = MODES) -> list[str]:
    """Every missing or weak value the given modes would refuse, one line each."""
    found = []
    for mode in modes:
        for name in REQUIRED_BY_MODE[mode]:
            line = f"{name}: required by {mode} but not set"
            if not getattr(settings, name.lower()) and line not in found:
                found.append(line)
    if "flower" in modes and settings.flower_basic_auth and ":" not in settings.flower_basic_auth:
        found.append("FLOWER_BASIC_AUTH: must be user:password")
    found += _tls_problems(settings, modes)
    if settings.environment == "production":
        for name, (secret, minimum) in _secrets(settings).items():
            reason = weakness(secret, minimum)
            if reason:
                found.append(f"{name}: {reason}; production refuses weak secrets")
        redis_url = settings.redis_url
        if redis_url and not urlsplit(redis_url).password:
            found.append("REDIS_URL: production needs a password-protected broker")
    return found


def _tls_problems(settings: Settings, modes: tuple[str, ...]) -> list[str]:
    """Half a certificate pair, a file that is not there, an https:// vecpipe nobody can verify."""
    found = []
    files = ["TLS_CA_FILE"]
    for mode in modes:
        if mode not in TLS_PAIRS:
            continue
        cert, key = TLS_PAIRS[mode]
        files += [cert, key]
        if bool(getattr(settings, cert.lower())) != bool(getattr(settings, key.lower())):
            found.append(f"{cert}/{key}: set both to serve {mode} over TLS, or neither")
    for name in files:
        path = getattr(settings, name.lower())
        if path and not path.is_file():
            found.append(f"{name}: {path} is not a readable file")
    database_url = settings.database_url
    if database_url and any(mode in modes for mode in ("webui", "worker", "beat", "migrate")):
        parts = urlsplit(database_url)
        query = parse_qs(parts.query)
        for root in query.get("sslrootcert", []):
            if not Path(root).is_file():
                found.append(f"DATABASE_URL: sslrootcert {root} is not a readable file")
        # TLS_CA_FILE marks the encrypted layout: a remote database must be verified there too (libpq's
        # default, sslmode=prefer, neither insists on TLS nor checks whom it talks to).
        remote = parts.hostname not in LOOPBACK
        verified = query.get("sslmode", [""])[-1] == "verify-full"
        if settings.environment == "production" and settings.tls_ca_file and remote and not verified:
            found.append(
                "DATABASE_URL: a remote server needs ?sslmode=verify-full&sslrootcert=<CA file>"
                " when TLS_CA_FILE is set"
            )
    uses_vecpipe = any(mode in modes for mode in VECPIPE_CLIENTS)
    https = urlsplit(settings.vecpipe_url).scheme == "https"
    # vecpipe's certificate comes from the deployment's private CA, which no system trust store holds:
    # without TLS_CA_FILE every call would fail verification at run time instead of here.
    if uses_vecpipe and https and settings.environment == "production" and not settings.tls_ca_file:
        found.append("VECPIPE_URL: https:// in production needs TLS_CA_FILE (the CA of its certificate)")
    return found


def validation_problems(error: ValidationError) -> list[str]:
    """Pydantic's errors as `VARIABLE: reason` lines (never echoing the value)."""
    return [f"{str(err['loc'][0]).upper()}: {err['msg']}" for err in error.errors()]


class ConfigError(RuntimeError):
    def __init__(self, lines: list[str]):
        super().__init__("invalid configuration:\n  " + "\n  ".join(lines))
        self.lines = lines


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(validation_problems(error)) from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()


def require(*modes: str) -> Settings:
    """The settings, or ConfigError naming everything these modes lack."""
    settings = get_settings()
    lines = problems(settings, modes)
    if lines:
        raise ConfigError(lines)
    return settings


def forget_environment(prefix: str) -> None:
    """Remove variables starting with ``prefix`` once Settings holds their values.

    Flower maps every FLOWER_* variable onto an option of its own and stops at one it lacks
    (FLOWER_HOST), so `semantik flower` passes its options explicitly and hides the variables.
    """
    for name in [name for name in os.environ if name.upper().startswith(prefix)]:
        del os.environ[name]
