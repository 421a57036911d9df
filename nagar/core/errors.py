"""One error type per meaning. The API maps each to an HTTP status; the CLI prints its message."""

from __future__ import annotations


class NagarError(Exception):
    """Base of every error Nagar raises on purpose."""

    status_code = 500
    code = "error"

    def __init__(self, message: str, *, field: str | None = None, details: object | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict:
        body: dict = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.details is not None:
            body["details"] = self.details
        return body


class InvalidInput(NagarError):
    """The caller sent something malformed or impossible (HTTP 422)."""

    status_code = 422
    code = "invalid_input"


class NotFound(NagarError):
    """A named thing (city, station, standard) does not exist (HTTP 404)."""

    status_code = 404
    code = "not_found"


class Conflict(NagarError):
    """The request clashes with what is stored (HTTP 409)."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(NagarError):
    """A batch exceeds the configured maximum (HTTP 413)."""

    status_code = 413
    code = "payload_too_large"


class StoreError(NagarError):
    """The store failed. `transient` tells a caller whether a retry may succeed."""

    status_code = 503
    code = "store_error"

    def __init__(self, message: str, *, transient: bool = False, **kw):
        super().__init__(message, **kw)
        self.transient = transient


class Unauthorized(NagarError):
    """No valid credentials were presented (HTTP 401)."""

    status_code = 401
    code = "unauthorized"


class Forbidden(NagarError):
    """The caller is known but lacks the right (HTTP 403)."""

    status_code = 403
    code = "forbidden"


def error_body_schema():
    """The JSON body of every error answer, as a Pydantic model (for the OpenAPI document)."""
    from pydantic import BaseModel, Field

    class ErrorBody(BaseModel):
        error: str = Field(..., description="Machine-readable kind, e.g. invalid_input, not_found")
        message: str = Field(..., description="What is wrong, for a person")
        field: str | None = Field(None, description="The offending field or parameter, where there is one")
        details: object | None = Field(None, description="More, e.g. every validation error")
        retry_after: int | None = Field(None, description="Seconds to wait (429 only)")

    return ErrorBody
