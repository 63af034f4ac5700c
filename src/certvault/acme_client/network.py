"""`acme.client.ClientNetwork` with the retries RFC 8555 clients need.

- badNonce: retried up to `max_nonce_retries` times with the nonce the error response carried
  (RFC 8555 §6.5); the library itself retries once with a fresh HEAD.
- 429 rateLimited and 503: waited out when Retry-After (or our backoff) fits in `max_wait`,
  otherwise raised as AcmeRateLimited with `retry_at` so the caller schedules a later attempt
  instead of holding a thread.
- connection errors: POST-as-GET and GET are retried (they change nothing); other POSTs are not,
  because the CA may have acted on them.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import josepy as jose
import requests
from acme import client as acme_client
from acme import errors as acme_errors
from acme import jws, messages

from certvault.acme_client.problems import AcmeProblem, AcmeRateLimited, AcmeUnavailable
from certvault.acme_client.transport import Transport

_log = logging.getLogger("certvault.acme_client")


@dataclass(frozen=True)
class RetryPolicy:
    max_nonce_retries: int = 10
    max_wait: float = 20.0  # seconds we may sleep inside one call for 429/503
    transport_retries: int = 2
    base_backoff: float = 0.25


def retry_after_seconds(value: str | None, default: float | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when absent/bad."""
    if not value:
        return default
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class ServerProblem(Exception):
    """Internal: a problem response with its HTTP status and Retry-After."""

    def __init__(self, error: messages.Error, status: int, retry_after: str | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.status = status
        self.retry_after = retry_after

    def to_problem(self, context: str = "", retry_at: datetime | None = None) -> AcmeProblem:
        body = self.error.to_partial_json()
        body = {k: v for k, v in dict(body).items() if v is not None}
        if "subproblems" in body:
            body["subproblems"] = [
                {k: v for k, v in (s.to_partial_json() if hasattr(s, "to_partial_json") else s).items()}
                for s in body["subproblems"]
            ]
            for sub in body["subproblems"]:
                ident = sub.get("identifier")
                if ident is not None and hasattr(ident, "to_partial_json"):
                    sub["identifier"] = ident.to_partial_json()
        cls = AcmeRateLimited if retry_at is not None else AcmeProblem
        return cls(body, self.status, retry_at=retry_at, context=context)


class ResilientNetwork(acme_client.ClientNetwork):
    def __init__(self, key: jose.JWK, *, alg: jose.JWASignature, verify: bool | str, timeout: float,
                 user_agent: str, policy: RetryPolicy | None = None, proxy_for: str | None = None) -> None:
        super().__init__(key, alg=alg, verify_ssl=verify, user_agent=user_agent, timeout=timeout)  # type: ignore[arg-type]
        self.policy = policy or RetryPolicy()
        # requests reads the whole environment (proxies, netrc) on every request; an ACME client talks
        # to one CA, so its proxy settings are read once (HTTPS_PROXY / NO_PROXY for that URL).
        self.session.trust_env = False
        if proxy_for:
            self.session.proxies = requests.utils.get_environ_proxies(proxy_for)
        # Without a proxy, urllib3 directly (requests' per-call overhead equals the call's own cost).
        self.transport = None if self.session.proxies else Transport(verify)

    def _send_request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        """As the library's, without building a debug dump of every response when nobody logs it."""
        kwargs.setdefault("headers", {})
        kwargs["headers"].setdefault("User-Agent", self.user_agent)
        kwargs.setdefault("timeout", self._default_timeout)
        if self.transport is not None and not args and kwargs.keys() <= {"headers", "timeout", "data"}:
            response = self.transport.request(method, url, data=kwargs.get("data"), headers=kwargs["headers"],
                                              timeout=kwargs["timeout"])
        else:
            kwargs["verify"] = self.verify_ssl
            response = self.session.request(method, url, *args, **kwargs)
        if "Accept" not in kwargs["headers"]:
            response.encoding = "utf-8"  # ACME JSON is UTF-8; spare requests guessing it
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s %s -> HTTP %d", method, url, response.status_code)
        return response

    # ---- POST ----------------------------------------------------------------------------------
    def post(self, url: str, obj: Any, *args: Any, **kwargs: Any) -> requests.Response:
        nonce_retries, waited, transport, limited = 0, 0.0, 0, 0
        while True:
            try:
                return self._post_once(url, obj, *args, **kwargs)
            except ServerProblem as problem:
                code = problem.error.code
                if code == "badNonce" and nonce_retries < self.policy.max_nonce_retries:
                    nonce_retries += 1
                    continue
                if code == "rateLimited" or problem.status in (429, 503):
                    delay = retry_after_seconds(problem.retry_after, self.policy.base_backoff * 2 ** min(limited, 6))
                    limited += 1
                    assert delay is not None
                    if waited + delay <= self.policy.max_wait:
                        time.sleep(delay)
                        waited += delay
                        continue
                    raise problem.to_problem(retry_at=datetime.now(UTC) + timedelta(seconds=delay)) from None
                raise problem.to_problem() from None
            except requests.exceptions.RequestException as exc:
                if obj is None and transport < self.policy.transport_retries:
                    transport += 1
                    time.sleep(self.policy.base_backoff * transport)
                    continue
                raise AcmeUnavailable(f"the CA at {_host(url)} could not be reached ({_reason(exc)})",
                                      retry_at=datetime.now(UTC) + timedelta(seconds=5)) from None

    def _post_once(self, url: str, obj: Any, content_type: str = acme_client.ClientNetwork.JOSE_CONTENT_TYPE,
                   **kwargs: Any) -> requests.Response:
        new_nonce_url = kwargs.pop("new_nonce_url", None)
        data = self._wrap_in_jws(obj, self._get_nonce(url, new_nonce_url), url)
        kwargs.setdefault("headers", {"Content-Type": content_type})
        response = self._send_request("POST", url, data=data, **kwargs)
        self._keep_nonce(response)  # error responses carry a usable nonce too (RFC 8555 §6.5)
        try:
            return self._check_response(response, content_type=content_type)
        except messages.Error as error:
            raise ServerProblem(error, response.status_code, response.headers.get("Retry-After")) from None

    def _wrap_in_jws(self, obj: Any, nonce: Any, url: str) -> str:
        """Flattened JWS with a `kid` (every request once the account exists), signed directly: josepy's
        generic JOSE objects cost several times the signature itself. newAccount (`jwk`) uses the library."""
        if self.account is None or self.key is None:
            return super()._wrap_in_jws(obj, nonce, url)
        payload = obj.json_dumps().encode() if obj else b""
        protected = json.dumps({"alg": self.alg.name, "kid": self.account["uri"], "nonce": jose.encode_b64jose(nonce),
                                "url": url}, separators=(",", ":")).encode()
        signing_input = jose.b64encode(protected) + b"." + jose.b64encode(payload)
        signature = self.alg.sign(self.key.key, signing_input)
        return json.dumps({"protected": jose.b64encode(protected).decode(), "payload": jose.b64encode(payload).decode(),
                           "signature": jose.b64encode(signature).decode()})

    def _keep_nonce(self, response: requests.Response) -> None:
        nonce = response.headers.get(self.REPLAY_NONCE_HEADER)
        if nonce:
            try:
                self._nonces.add(jws.Header._fields["nonce"].decode(nonce))
            except jose.DeserializationError:
                pass

    # ---- GET -----------------------------------------------------------------------------------
    def get(self, url: str, content_type: str = acme_client.ClientNetwork.JSON_CONTENT_TYPE,
            **kwargs: Any) -> requests.Response:
        attempt = 0
        while True:
            try:
                response = self._send_request("GET", url, **kwargs)
            except requests.exceptions.RequestException as exc:
                if attempt < self.policy.transport_retries:
                    attempt += 1
                    time.sleep(self.policy.base_backoff * attempt)
                    continue
                raise AcmeUnavailable(f"the CA at {_host(url)} could not be reached ({_reason(exc)})",
                                      retry_at=datetime.now(UTC) + timedelta(seconds=5)) from None
            if response.status_code == 503 and attempt < self.policy.transport_retries:
                attempt += 1
                time.sleep(retry_after_seconds(response.headers.get("Retry-After"), 0.5) or 0.5)
                continue
            try:
                return self._check_response(response, content_type=content_type)
            except messages.Error as error:
                raise ServerProblem(error, response.status_code, None).to_problem() from None
            except acme_errors.ClientError as error:
                raise AcmeUnavailable(f"the CA at {_host(url)} answered HTTP {response.status_code} "
                                      f"for {url}") from error


def _host(url: str) -> str:
    from urllib.parse import urlparse

    return urlparse(url).netloc or url


def _reason(exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS verification failed; give the CA's certificate bundle with --ca-bundle"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection failed"
    return type(exc).__name__
