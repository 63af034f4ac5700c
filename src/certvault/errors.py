"""The one error tree. The API maps each class to an HTTP status; the CLI prints the message.

CertvaultError
 +-- InvalidInput      400  the caller sent something malformed (names the field or file)
 |    +-- OverLimit    422  well-formed, but beyond a configured limit (names the setting)
 +-- Unauthenticated   401  no or bad credentials
 +-- Forbidden         403  authenticated but not allowed
 |    +-- PasswordChangeRequired  403  the account must replace its password before anything else
 +-- NotFound          404
 +-- Conflict          409  state does not allow it (duplicate, checked out, ...)
 +-- TooLarge          413
 +-- RateLimited       429  too many attempts from the caller; says when to try again
 +-- IntegrationError  502  a peer (CA, DNS provider, help desk) failed; message says which and why
"""

from __future__ import annotations


class CertvaultError(Exception):
    status_code = 500
    code = "error"

    def __init__(self, message: str, *, keep_changes: bool = False, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        # True when the service deliberately recorded something before refusing (a failed-login
        # counter, a denied-access audit row): the caller's transaction commits those rows.
        self.keep_changes = keep_changes


class InvalidInput(CertvaultError):
    status_code = 400
    code = "invalid_input"


class Unauthenticated(CertvaultError):
    status_code = 401
    code = "unauthenticated"


class OverLimit(InvalidInput):
    status_code = 422
    code = "over_limit"


class Forbidden(CertvaultError):
    status_code = 403
    code = "forbidden"


class PasswordChangeRequired(Forbidden):
    code = "password_change_required"


class NotFound(CertvaultError):
    status_code = 404
    code = "not_found"


class Conflict(CertvaultError):
    status_code = 409
    code = "conflict"


class TooLarge(CertvaultError):
    status_code = 413
    code = "too_large"


class RateLimited(CertvaultError):
    status_code = 429
    code = "rate_limited"


class IntegrationError(CertvaultError):
    status_code = 502
    code = "integration_error"
