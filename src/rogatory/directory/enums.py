"""Kinds of authority in the directory."""

from __future__ import annotations

from enum import StrEnum


class AuthorityKind(StrEnum):
    ISSUING = "issuing"
    VALIDATING = "validating"
    CENTRAL_AUTHORITY = "central_authority"
    EXECUTING = "executing"
    CONTACT_POINT_24_7 = "contact_point_24_7"
    PROVIDER_LEGAL_REPRESENTATIVE = "provider_legal_representative"
