"""NGSI-LD errors as RFC 7807 ProblemDetails (ETSI GS CIM 009 V1.6.1 clause 5.5.2, "Error types").

Each error is a :class:`~nagar.core.errors.NagarError` (so the rest of Nagar treats it like any other) and
renders as a ProblemDetails body: ``type`` (the standard's error type URI), ``title``, ``detail`` and
``status``. The body also carries Nagar's ``error`` / ``message`` members (allowed extension members of
RFC 7807), so one JSON schema documents every error answer of the API.
"""

from __future__ import annotations

from nagar.core.errors import NagarError

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
PROBLEM_JSON = "application/json"


class NgsiError(NagarError):
    """Base: one ProblemDetails type URI and HTTP status per subclass."""

    status_code = 400
    code = "InvalidRequest"
    title = "Invalid request"

    def problem(self) -> dict:
        body = {"type": ERRORS + self.code, "title": self.title, "status": self.status_code,
                "detail": self.message, "error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body

    def to_dict(self) -> dict:
        return self.problem()


class InvalidRequest(NgsiError):
    """The request is not well formed (e.g. not JSON, wrong content type) - 400."""

    code, title, status_code = "InvalidRequest", "Invalid request", 400


class BadRequestData(NgsiError):
    """The request is well formed but its content is not valid NGSI-LD - 400."""

    code, title, status_code = "BadRequestData", "Bad request data", 400


class AlreadyExists(NgsiError):
    code, title, status_code = "AlreadyExists", "Already exists", 409


class OperationNotSupported(NgsiError):
    code, title, status_code = "OperationNotSupported", "Operation not supported", 422


class ResourceNotFound(NgsiError):
    code, title, status_code = "ResourceNotFound", "Resource not found", 404


class NonexistentTenant(NgsiError):
    """The tenant (``NGSILD-Tenant`` header) does not exist, or the caller may not see it - 404."""

    code, title, status_code = "NonexistentTenant", "Nonexistent tenant", 404


class LdContextNotAvailable(NgsiError):
    """A remote @context was referenced that this broker may not fetch. The standard answers 503; Nagar
    answers 400 since the refusal is by policy (no fetching of remote contexts), not a passing fault:
    retrying will not help, the caller must send the context inline or use an allow-listed URL."""

    code, title, status_code = "LdContextNotAvailable", "JSON-LD @context not available", 400


class UnsupportedMediaType(NgsiError):
    """A body that is neither application/json nor application/ld+json (clause 6.3.4) - 415, typed as
    InvalidRequest (the standard defines no type of its own for it)."""

    code, title, status_code = "InvalidRequest", "Unsupported media type", 415


class TooManyResults(NgsiError):
    code, title, status_code = "TooManyResults", "Too many results", 403


class TenantForbidden(NgsiError):
    """The caller sees the tenant (city) but lacks the right for the operation - 403 (Nagar's tenancy)."""

    code, title, status_code = "Forbidden", "Forbidden", 403

    def problem(self) -> dict:
        body = super().problem()
        body["type"] = "urn:nagar:errors:Forbidden"
        return body


def problem_of(exc: NagarError) -> dict:
    """ProblemDetails for any Nagar error raised below an NGSI-LD route (store, ingest, ...)."""
    if isinstance(exc, NgsiError):
        return exc.problem()
    kind = {404: "ResourceNotFound", 409: "AlreadyExists", 422: "BadRequestData", 400: "BadRequestData"}.get(
        exc.status_code, "InternalError" if exc.status_code >= 500 else "BadRequestData")
    body = {"type": ERRORS + kind, "title": kind, "status": exc.status_code, "detail": exc.message,
            "error": exc.code, "message": exc.message}
    if exc.field is not None:
        body["field"] = exc.field
    return body
