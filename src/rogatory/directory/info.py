"""Plain, immutable views of directory entries, shared by the seed loader, the finder and the
service (the finder is pure and never sees the database)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rogatory.directory.enums import AuthorityKind
from rogatory.requests.enums import Rank


@dataclass(frozen=True)
class Binding:
    """An instrument family that binds a jurisdiction, and how sure we are of it."""

    key: str
    verified: bool = True
    note: str | None = None


@dataclass(frozen=True)
class JurisdictionInfo:
    code: str  # ISO 3166-1 alpha-2
    name: str
    languages: tuple[str, ...]  # ISO 639-1, official languages first
    timezone: str  # IANA zone of the capital, used for day-based deadlines
    bindings: tuple[Binding, ...] = ()
    bilateral_mla: tuple[str, ...] = ()  # alpha-2 codes of bilateral MLA treaty partners

    def bound_by(self, key: str) -> bool:
        return any(b.key == key for b in self.bindings)

    def binding(self, key: str) -> Binding | None:
        return next((b for b in self.bindings if b.key == key), None)


@dataclass(frozen=True)
class AuthorityInfo:
    id: str
    jurisdiction: str
    name: str
    kind: AuthorityKind
    rank: Rank | None = None
    languages: tuple[str, ...] = ()
    channels: tuple[str, ...] = field(default=())
    email: str | None = None
