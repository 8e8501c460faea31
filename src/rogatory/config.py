"""The one validated `Settings` object, read from `ROGATORY_*` environment variables.

Nothing connects at import time. Outside the demo, default secrets are refused."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rogatory.errors import ConfigurationError

DEFAULT_SECRET = "change-me-demo-only"


def https_or_loopback(url: str) -> bool:
    """An https:// URL, or an http:// one on a loopback address (a test identity provider)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


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
    operator_acts_as: bool = Field(
        default=False,
        description="The command line may act as any user named by --as without that user's "
        "API token (the node's operator acting for them; logged as such). Always so on the "
        "demo; elsewhere the CLI acts as the holder of ROGATORY_TOKEN")
    default_language: str = "en"
    tls: bool = Field(
        default=False,
        description="The node is served over HTTPS (directly or behind a TLS proxy): adds HSTS "
        "and marks session cookies Secure")
    tsa_url: str | None = Field(
        default=None, description="An external RFC 3161 TSA; default: the node's built-in TSA"
    )
    # Optional login with OpenID Connect (rogatory.identity.oidc); off unless the issuer is set.
    oidc_issuer: str | None = Field(
        default=None, description="The identity provider's issuer URL (discovery at "
        "{issuer}/.well-known/openid-configuration); OIDC login is off when unset")
    oidc_client_id: str | None = Field(default=None, description="This node's client id there")
    oidc_client_secret: SecretStr | None = Field(default=None,
                                                 description="This node's client secret there")
    oidc_name: str = Field(default="OpenID Connect", min_length=1,
                           description='The provider\'s name on the login page ("Log in with …")')
    oidc_username_claim: str = Field(
        default="preferred_username", min_length=1,
        description="The ID token claim matched to the username of an existing, active user "
        "(no account is ever created from it)")
    oidc_required_amr: str = Field(
        default="mfa", description="A login is refused unless the ID token's `amr` claim "
        "contains this value: the second factor stays mandatory")
    oidc_scope: str = Field(default="openid profile",
                            description="The scopes asked for (must include openid)")

    @field_validator("database_schema")
    @classmethod
    def _schema_is_identifier(cls, value: str | None) -> str | None:
        if value is not None and not value.replace("_", "").isalnum():
            raise ValueError("database_schema must be letters, digits and underscores")
        return value

    @field_validator("oidc_issuer", "oidc_client_id", "oidc_client_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _oidc_complete(self) -> Self:
        """OIDC settings that cannot work are refused at start-up, naming the variable."""
        if self.oidc_issuer is None:
            return self
        parts = urlsplit(self.oidc_issuer)
        if not https_or_loopback(self.oidc_issuer) or parts.query or parts.fragment:
            raise ValueError(
                "ROGATORY_OIDC_ISSUER must be an https:// URL without query or fragment "
                "(http:// only on a loopback address)")
        if not self.oidc_client_id:
            raise ValueError("ROGATORY_OIDC_CLIENT_ID is required when ROGATORY_OIDC_ISSUER is set")
        if self.oidc_client_secret is None or not self.oidc_client_secret.get_secret_value():
            raise ValueError(
                "ROGATORY_OIDC_CLIENT_SECRET is required when ROGATORY_OIDC_ISSUER is set")
        if not self.oidc_required_amr.strip():
            raise ValueError("ROGATORY_OIDC_REQUIRED_AMR must not be empty: the second factor is "
                             "mandatory (default: mfa)")
        if "openid" not in self.oidc_scope.split():
            raise ValueError("ROGATORY_OIDC_SCOPE must include openid")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_issuer is not None

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
