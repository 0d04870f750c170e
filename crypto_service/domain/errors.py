"""Domain errors. The server maps each to one gRPC status in one place (server/guard.py)."""


class DomainError(Exception):
    """A failure the caller can act on; its message is safe to show to clients."""


class InvalidArgument(DomainError):
    pass


class NotFound(DomainError):
    pass


class InsufficientFunds(DomainError):
    pass


class BalanceLimit(DomainError):
    """A balance would pass the largest value its column holds."""


class Conflict(DomainError):
    """The request reuses an idempotency key with a different payload."""


class Unauthenticated(DomainError):
    pass


class Forbidden(DomainError):
    pass


class ResourceExhausted(DomainError):
    pass


class Unavailable(DomainError):
    """A transient condition (the database stayed busy or unreachable): the caller may
    retry."""
