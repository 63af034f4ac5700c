"""ACME errors in plain words, with the CA's problem document kept for the record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from certvault.errors import IntegrationError

PREFIX = "urn:ietf:params:acme:error:"

PLAIN_WORDS: dict[str, str] = {
    "accountDoesNotExist": "the CA does not know this account",
    "alreadyReplaced": "the certificate named in 'replaces' was already renewed",
    "alreadyRevoked": "the certificate is already revoked",
    "badCSR": "the CA rejected the certificate signing request",
    "badNonce": "the CA kept rejecting the request's one-time nonce",
    "badPublicKey": "the CA does not accept this key type or size",
    "badRevocationReason": "the CA does not accept this revocation reason",
    "badSignatureAlgorithm": "the CA does not accept the signature algorithm",
    "caa": "a CAA DNS record forbids this CA from issuing for the name",
    "compound": "several problems occurred",
    "connection": "the CA could not connect to the server to validate the challenge",
    "dns": "the CA could not look up the DNS records needed for validation",
    "externalAccountRequired": "this CA requires External Account Binding (a key id and HMAC key from the CA)",
    "incorrectResponse": "the CA found a different challenge response than expected",
    "invalidContact": "the CA rejected the contact email",
    "invalidProfile": "the CA does not offer the requested profile",
    "malformed": "the CA found the request malformed",
    "orderNotReady": "the order is not ready to be finalized",
    "rateLimited": "the CA's rate limit was reached",
    "rejectedIdentifier": "the CA will not issue for this name",
    "serverInternal": "the CA had an internal error",
    "tls": "the CA hit a TLS error while validating",
    "unauthorized": "the CA refused the request (unauthorized)",
    "unsupportedContact": "the CA does not support this kind of contact",
    "unsupportedIdentifier": "the CA does not support this kind of identifier",
    "userActionRequired": "the CA requires you to act (for example accept new terms of service)",
}


def short_type(problem_type: str | None) -> str:
    if not problem_type:
        return "unknown"
    return problem_type[len(PREFIX):] if problem_type.startswith(PREFIX) else problem_type


def describe_problem(problem: dict[str, Any] | None) -> str:
    """One readable sentence: the plain meaning, the CA's detail, and the identifiers involved."""
    if not problem:
        return "the CA reported an error without details"
    kind = short_type(problem.get("type"))
    text = PLAIN_WORDS.get(kind, f"the CA reported '{kind}'")
    detail = str(problem.get("detail") or "").strip()
    if detail:
        text += f": {detail}"
    parts = []
    for sub in problem.get("subproblems") or []:
        ident = (sub.get("identifier") or {}).get("value", "?")
        parts.append(f"{ident}: {describe_problem(sub)}")
    if parts:
        text += " (" + "; ".join(parts) + ")"
    return text


class AcmeError(IntegrationError):
    """Any failure talking to an ACME CA; the message is meant for people."""

    retry_at: datetime | None = None


class AcmeProblem(AcmeError):
    """The CA answered with an RFC 7807 problem document."""

    def __init__(self, problem: dict[str, Any], status: int | None = None,
                 retry_at: datetime | None = None, context: str = "") -> None:
        message = describe_problem(problem)
        super().__init__(f"{context}: {message}" if context else message)
        self.problem = problem
        self.type = short_type(problem.get("type"))
        self.status = status
        self.retry_at = retry_at


class AcmeUnavailable(AcmeError):
    """The CA could not be reached or timed out (safe to try again later)."""

    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class AcmeRateLimited(AcmeProblem):
    """Rate limited (or 503) for longer than we are willing to wait inside one call."""


class AcmeProtocolError(AcmeError):
    """The CA answered something that does not follow RFC 8555."""
