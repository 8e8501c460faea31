"""The one validated `Settings` object, read from `ROGATORY_*` environment variables.

Nothing connects at import time. Outside the demo, default secrets are refused."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rogatory.errors import ConfigurationError

DEFAULT_SECRET = "change-me-demo-only"


class Settings(BaseSettings):
    """Node settings. Embedded default: SQLite and evidence under `data_dir`."""

    model_config = SettingsConfigDict(env_prefix="ROGATORY_", extra="ignore")

    data_dir: Path = Field(default=Path("./var"), description="Database, keys and evidence")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite file under data_dir"
    )
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema to use (search_path); default public"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    node_name: str = Field(default="rogatory.local", min_length=1)
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    demo: bool = False
    default_language: str = "en"
    tls: bool = Field(
        default=False,
        description="The node is served over HTTPS (directly or behind a TLS proxy): adds HSTS "
        "and marks session cookies Secure")
    tsa_url: str | None = Field(
        default=None, description="An external RFC 3161 TSA; default: the node's built-in TSA"
    )

    @field_validator("database_schema")
    @classmethod
    def _schema_is_identifier(cls, value: str | None) -> str | None:
        if value is not None and not value.replace("_", "").isalnum():
            raise ValueError("database_schema must be letters, digits and underscores")
        return value

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'rogatory.db').resolve()}"

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    def require_production_secrets(self) -> None:
        """Refuse to serve with the demo secret unless this node is the demo."""
        if not self.demo and self.secret_key.get_secret_value() == DEFAULT_SECRET:
            raise ConfigurationError(
                "ROGATORY_SECRET_KEY is the default demo secret; set a secret of your own "
                "or run the demo with ROGATORY_DEMO=true"
            )
