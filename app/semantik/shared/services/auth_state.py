"""What authentication keeps in Redis, so it holds across webui workers and hosts.

Failed-login counters, per account and per client address, in fixed windows: an attempt is counted
before the password is checked (a flood cannot slip past the limit while hashes are computed), and a
success takes its attempt back. Revoked login sessions ("families": one login and its refresh
rotations), kept for as long as an access token of theirs can live.
"""

from __future__ import annotations

import hashlib

import redis

from semantik.shared.config import Settings
from semantik.shared.errors import ServiceUnavailableError, TooManyRequestsError

PREFIX = "semantik:auth:"
# A success takes its attempt back from the address's count, never creating a count without expiry.
_GIVE_BACK = "if redis.call('exists', KEYS[1]) == 1 then redis.call('decr', KEYS[1]) end"


def _unavailable(error: redis.RedisError) -> ServiceUnavailableError:
    return ServiceUnavailableError(f"Redis (login state) is unavailable: {error.__class__.__name__}")


class AuthState:
    def __init__(self, client: redis.Redis, settings: Settings):
        self.client = client
        self.per_account = settings.login_max_failures_per_account
        self.per_address = settings.login_max_failures_per_address
        self.window = settings.login_window_seconds
        # Kept for as long as a token of a revoked family can live: an access token, or a web
        # page's session (WEB_SESSION_HOURS), whichever lives longer.
        lifetime = max(settings.access_token_expire_minutes * 60, settings.web_session_hours * 3600)
        self.revocation_ttl = lifetime + 60

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthState:
        client = redis.Redis.from_url(
            settings.redis_url or "", socket_timeout=5, socket_connect_timeout=5, **settings.redis_tls()
        )
        return cls(client, settings)

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        account = hashlib.sha256(username.lower().encode()).hexdigest()
        return f"{PREFIX}attempts:account:{account}", f"{PREFIX}attempts:address:{address}"

    def count_attempt(self, username: str, address: str) -> None:
        """Count a login attempt; TooManyRequestsError once the account or the address is over."""
        account, client = self._keys(username, address)
        try:
            pipe = self.client.pipeline()
            for key in (account, client):
                pipe.incr(key)
                pipe.expire(key, self.window, nx=True)
                pipe.ttl(key)
            tried_account, _, wait_account, tried_address, _, wait_address = pipe.execute()
        except redis.RedisError as error:
            raise _unavailable(error) from None
        if tried_account > self.per_account:
            raise TooManyRequestsError(
                "Too many failed logins for this account; try again later", wait_account
            )
        if tried_address > self.per_address:
            raise TooManyRequestsError(
                "Too many failed logins from this address; try again later", wait_address
            )

    def attempt_succeeded(self, username: str, address: str) -> None:
        account, client = self._keys(username, address)
        try:
            # A statement per command: redis-py types a pipeline's commands as returning results, not itself.
            pipe = self.client.pipeline()
            pipe.delete(account)
            pipe.eval(_GIVE_BACK, 1, client)
            pipe.execute()
        except redis.RedisError as error:
            raise _unavailable(error) from None

    def revoke(self, family: str) -> None:
        try:
            self.client.set(f"{PREFIX}revoked:{family}", 1, ex=self.revocation_ttl)
        except redis.RedisError as error:
            raise _unavailable(error) from None

    def is_revoked(self, family: str) -> bool:
        try:
            return bool(self.client.exists(f"{PREFIX}revoked:{family}"))
        except redis.RedisError as error:
            raise _unavailable(error) from None

    def close(self) -> None:
        self.client.close()
