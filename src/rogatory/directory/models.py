"""Tables of the directory: jurisdictions and their authorities."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from rogatory.db import Base
from rogatory.directory.info import AuthorityInfo, Binding, JurisdictionInfo


class Jurisdiction(Base):
    __tablename__ = "jurisdictions"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    languages: Mapped[list[str]] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(64))
    bindings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    bilateral_mla: Mapped[list[str]] = mapped_column(JSON)

    def info(self) -> JurisdictionInfo:
        return JurisdictionInfo(
            code=self.code,
            name=self.name,
            languages=tuple(self.languages),
            timezone=self.timezone,
            bindings=tuple(Binding(**b) for b in self.bindings),
            bilateral_mla=tuple(self.bilateral_mla),
        )


class Authority(Base):
    __tablename__ = "authorities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    rank: Mapped[str | None] = mapped_column(String(40))
    languages: Mapped[list[str]] = mapped_column(JSON)
    channels: Mapped[list[str]] = mapped_column(JSON)
    email: Mapped[str | None] = mapped_column(String(200))

    def info(self) -> AuthorityInfo:
        from rogatory.directory.enums import AuthorityKind
        from rogatory.requests.enums import Rank

        return AuthorityInfo(
            id=self.id,
            jurisdiction=self.jurisdiction_code,
            name=self.name,
            kind=AuthorityKind(self.kind),
            rank=Rank(self.rank) if self.rank else None,
            languages=tuple(self.languages),
            channels=tuple(self.channels),
            email=self.email,
        )
