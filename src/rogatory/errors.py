"""One error hierarchy for Rogatory: each error has a machine code, a human message and an HTTP
status, mapped to responses in one place (`rogatory.app`)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any


class RogatoryError(Exception):
    """Base of every error Rogatory raises on purpose."""

    code: str = "error"
    http_status: int = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class NotFound(RogatoryError):
    """The thing does not exist, or the caller may not know it exists: both look the same."""

    code = "not_found"
    http_status = 404


@dataclass(frozen=True)
class FieldError:
    """One invalid field: its dotted path and what is wrong with it."""

    field: str
    message: str  # an English msgid with `{name}` placeholders, translated when shown
    params: dict[str, Any] = dc_field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        from rogatory.i18n import translate

        return translate(self.message, lang).format(**self.params)

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {"field": self.field, "message": self.text(lang)}


class ValidationFailed(RogatoryError):
    """Input that breaks a rule; names every field at fault."""

    code = "validation_failed"
    http_status = 422

    def __init__(self, errors: list[FieldError]) -> None:
        names = ", ".join(e.field for e in errors)
        super().__init__(f"invalid fields: {names}")
        self.errors = errors

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "errors": [e.to_dict(lang) for e in self.errors],
        }


class InvalidTransition(RogatoryError):
    """A workflow verb not allowed in the request's current state."""

    code = "invalid_transition"
    http_status = 409

    def __init__(self, verb: str, state: str, allowed: list[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"'{verb}' is not allowed while the request is '{state}'; allowed: {allowed_text}",
            verb=verb,
            state=state,
            allowed=allowed,
        )


class StaleState(RogatoryError):
    """Someone else changed the request first (optimistic concurrency)."""

    code = "stale_state"
    http_status = 409

    def __init__(self, expected_version: int, current_version: int, state: str) -> None:
        super().__init__(
            f"the request changed meanwhile: you acted on version {expected_version}, "
            f"it is now version {current_version} in state '{state}'",
            expected_version=expected_version,
            current_version=current_version,
            state=state,
        )


class Forbidden(RogatoryError):
    """The actor may not perform this verb (wrong role or authority)."""

    code = "forbidden"
    http_status = 403


class Unauthenticated(RogatoryError):
    """No valid credentials."""

    code = "unauthenticated"
    http_status = 401


class CsrfRefused(RogatoryError):
    """A state-changing call made with the session cookie but without the session's CSRF
    token: it may come from another site's page, so it is refused."""

    code = "csrf_refused"
    http_status = 403


class ConfigurationError(RogatoryError):
    """Settings that cannot be used (e.g. a default secret outside the demo)."""

    code = "configuration_error"
    http_status = 500


class CatalogueError(RogatoryError):
    """An instrument definition file that breaks the catalogue schema."""

    code = "catalogue_error"
    http_status = 500


class VerificationError(RogatoryError):
    """A proof, signature, hash or package that does not verify."""

    code = "verification_failed"
    http_status = 422
