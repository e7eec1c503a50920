"""Domain errors raised by shared/services and mapped to HTTP by each service (API_CONTRACT.md §6)."""


class SemantikError(Exception):
    status_code = 400
    # Seconds a client should wait before trying again (sent as Retry-After), where that is known.
    retry_after: int | None = None


class EntityNotFoundError(SemantikError):
    status_code = 404

    def __init__(self, entity: str, entity_id: object):
        super().__init__(f"{entity} with ID '{entity_id}' not found")


class EntityAlreadyExistsError(SemantikError):
    status_code = 409

    def __init__(self, entity: str, identifier: object):
        super().__init__(f"{entity} with identifier '{identifier}' already exists")


class InvalidStateError(SemantikError):
    status_code = 409


class AccessDeniedError(SemantikError):
    status_code = 403


class ValidationError(SemantikError):
    status_code = 400


class ServiceUnavailableError(SemantikError):
    status_code = 503
    retry_after = 2


class TooManyRequestsError(SemantikError):
    status_code = 429
    retry_after: int  # always known here (set by __init__)

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class AuthenticationError(SemantikError):
    status_code = 401
