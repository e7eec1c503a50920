import subprocess
import sys

import pytest

from semantik.shared.config import MODES, ConfigError, Settings, load_settings, problems, weakness

STRONG_KEY = "Zq8vN3kP0wX7rT2mL5yH9cB4dF6gJ1sA"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests describe the settings alone, not whatever the test session exported."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def test_missing_values_are_named_per_mode() -> None:
    settings = Settings()
    vecpipe = problems(settings, ("vecpipe",))
    assert vecpipe == ["INTERNAL_API_KEY: required by vecpipe but not set"]
    webui = problems(settings, ("webui",))
    assert {line.split(":")[0] for line in webui} == {
        "DATABASE_URL",
        "REDIS_URL",
        "JWT_SECRET_KEY",
        "INTERNAL_API_KEY",
    }


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("changeme-changeme-changeme-changeme", "placeholder"),
        ("short", "shorter than 32"),
        ("abababababababababababababababab", "low entropy"),
    ],
)
def test_weak_secrets_are_refused(secret: str, reason: str) -> None:
    assert reason in (weakness(secret, 32) or "")


def test_production_refuses_weak_secrets_but_development_does_not() -> None:
    fields = {
        "jwt_secret_key": "changeme",
        "internal_api_key": STRONG_KEY,
        "database_url": "postgresql://u:password@db/semantik",
        "redis_url": "redis://redis:6379/0",
    }
    dev = problems(Settings(environment="development", **fields), ("webui",))
    assert dev == []
    prod = problems(Settings(environment="production", **fields), ("webui",))
    names = [line.split(":")[0] for line in prod]
    assert names == ["JWT_SECRET_KEY", "DATABASE_URL password", "REDIS_URL"]
    assert all("changeme" not in line and "password@" not in line for line in prod)


def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "lots")
    monkeypatch.setenv("DEFAULT_QUANTIZATION", "int4")
    monkeypatch.setenv("DOCUMENT_ALLOWED_ROOTS", "relative/docs")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert {line.split(":")[0] for line in raised.value.lines} == {
        "DB_POOL_SIZE",
        "DEFAULT_QUANTIZATION",
        "DOCUMENT_ALLOWED_ROOTS",
    }


def test_allowed_roots_split_on_commas_and_colons(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCUMENT_ALLOWED_ROOTS", "/srv/a,/srv/b:/srv/c")
    assert [str(p) for p in load_settings().document_allowed_roots] == ["/srv/a", "/srv/b", "/srv/c"]


def _check_config(env: dict[str, str], *modes: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "semantik.cli", "check-config", *modes],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
    )


def test_check_config_exits_1_naming_each_problem() -> None:
    result = _check_config(
        {"ENVIRONMENT": "production", "JWT_SECRET_KEY": "changeme", "DB_POOL_TIMEOUT": "0"}, "webui"
    )
    assert result.returncode == 1
    assert "DB_POOL_TIMEOUT" in result.stderr
    assert result.stdout == ""


def test_check_config_passes_silently_and_prints_no_secret() -> None:
    env = {
        "ENVIRONMENT": "production",
        "JWT_SECRET_KEY": STRONG_KEY,
        "INTERNAL_API_KEY": STRONG_KEY[::-1],
        "DATABASE_URL": "postgresql://semantik:Xk29vQm4Lr8sT1pZ@db/semantik",
        "REDIS_URL": "redis://:Ha7Wq2Ze9Ub4Nc6R@redis:6379/0",
    }
    result = _check_config(env, "webui", "worker")
    assert result.returncode == 0, result.stderr
    assert STRONG_KEY not in result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


def test_check_config_without_a_mode_checks_every_mode_and_refuses_an_unknown_one() -> None:
    every = _check_config({"ENVIRONMENT": "production", "JWT_SECRET_KEY": "changeme"})
    assert every.returncode == 1, every.stderr
    assert every.stderr.rstrip().endswith(f"problem(s) for {', '.join(MODES)}"), every.stderr
    unknown = _check_config({}, "webui", "nosuchmode")
    assert unknown.returncode == 2
    assert "invalid mode 'nosuchmode'" in unknown.stderr


def test_tls_settings_are_checked_per_mode(tmp_path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    half = Settings(internal_api_key=STRONG_KEY, vecpipe_tls_cert=cert)
    assert problems(half, ("vecpipe",)) == [
        "VECPIPE_TLS_CERT/VECPIPE_TLS_KEY: set both to serve vecpipe over TLS, or neither"
    ]
    assert not [line for line in problems(half, ("worker",)) if "TLS" in line]  # not a worker's concern
    missing = Settings(webui_tls_cert=cert, webui_tls_key=tmp_path / "gone.key", tls_ca_file=tmp_path / "no")
    lines = problems(missing, ("webui",))
    assert f"TLS_CA_FILE: {tmp_path / 'no'} is not a readable file" in lines
    assert f"WEBUI_TLS_KEY: {tmp_path / 'gone.key'} is not a readable file" in lines


def test_production_tls_needs_a_ca_for_vecpipe_and_verify_full_for_a_remote_database(tmp_path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    fields = {"environment": "production", "vecpipe_url": "https://vecpipe:8000"}
    assert any(line.startswith("VECPIPE_URL: https://") for line in problems(Settings(**fields), ("worker",)))
    remote = "postgresql://u:Zq8vN3kP0wX7rT2mL5y@db/semantik"
    settings = Settings(**fields, tls_ca_file=ca, database_url=remote)
    assert [line for line in problems(settings, ("worker",)) if "sslmode" in line]
    url = f"{remote}?sslmode=verify-full&sslrootcert={ca}"
    verified = Settings(**fields, tls_ca_file=ca, database_url=url)
    lines = problems(verified, ("worker",))
    assert not [line for line in lines if "VECPIPE_URL" in line or "sslmode" in line]
    assert "sslmode=verify-full" in verified.sqlalchemy_url


def test_redis_tls_options_only_for_rediss(tmp_path) -> None:
    assert Settings(redis_url="redis://r:6379/0", tls_ca_file=tmp_path).redis_tls() == {}
    options = Settings(redis_url="rediss://r:6380/0", tls_ca_file=tmp_path / "ca.pem").redis_tls()
    assert options["ssl_ca_certs"] == str(tmp_path / "ca.pem") and options["ssl_check_hostname"] is True
