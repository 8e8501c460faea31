"""Login with OpenID Connect against a national identity provider: the protocol, not the pages
(those are `rogatory.web.oidc`).

This module owns the authorization code flow with PKCE (S256): the provider's discovery document
and signing keys (cached per application), the authorization URL, the login in progress sealed
into the browser's cookie (`state`, `nonce`, the PKCE verifier and where to go next; encrypted
and authenticated under a key derived from the node secret, and valid for ten minutes), the
token exchange, and the checks of the ID token: signature against the provider's JWKS (an
asymmetric algorithm the provider announces; never `none` or a shared secret), `iss`, `aud`,
`exp`, `iat`, `nonce` (and `azp`, `at_hash` when present), then the mandatory second factor (the
`amr` claim must contain `ROGATORY_OIDC_REQUIRED_AMR`, default `mfa`) and the username claim,
which must name an existing, active user: no account is ever created here.

The HTTP side is authlib's OAuth 2 client (over httpx2); the JOSE side is joserfc, with authlib's
`CodeIDToken` for the OpenID Connect rules. Every failure raises `OidcRefused`, whose reason is
for the server's log only: the person logging in sees one message whatever went wrong."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwe import JWERegistry
from joserfc.jwk import KeySet, OctKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from rogatory.config import Settings, https_or_loopback
from rogatory.identity.models import User

LOGIN_LIFETIME = timedelta(minutes=10)
"""How long a login may stay at the identity provider before it has to start again."""
METADATA_LIFETIME = 3600.0
"""Seconds the discovery document and the keys are kept (the keys are fetched again at once
when an ID token names a key that is not among them: the provider rotated its keys)."""
HTTP_TIMEOUT = 10.0
LEEWAY = 60
"""Seconds of clock difference allowed when checking `exp` and `iat`."""
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                      "ES512", "EdDSA")
"""What an ID token may be signed with: asymmetric algorithms only."""
_SEAL = JWERegistry(algorithms=["dir", "A256GCM"])


class OidcRefused(Exception):
    """A login with the identity provider refused; `reason` goes to the server's log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Provider:
    """What this node uses of the provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]
    token_auth_method: str


@dataclass(frozen=True)
class PendingLogin:
    """A login sent to the identity provider, kept (sealed) in the browser's cookie."""

    state: str
    nonce: str
    code_verifier: str
    next_path: str
    expires_at: int


def _printable(value: object, limit: int = 80) -> str:
    """A value from the outside, safe to put in a log line."""
    return "".join(c if c.isprintable() else "?" for c in str(value))[:limit]


def find_user(session: Session, username: str) -> User:
    """The existing, active user named by the ID token; otherwise refused (no account is made)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise OidcRefused(f"no user {_printable(username)!r}")
    if not user.active:
        raise OidcRefused(f"user {_printable(username)!r} is inactive")
    return user


class OidcClient:
    """The OpenID Connect client of one application: its settings, the provider's discovery
    document and keys, and the states already used (a state is good for one callback)."""

    def __init__(self, settings: Settings) -> None:
        if settings.oidc_issuer is None or settings.oidc_client_id is None or (
                settings.oidc_client_secret is None):
            raise ValueError("OIDC login is not configured")
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret
        self.scope = settings.oidc_scope
        self.username_claim = settings.oidc_username_claim
        self.required_amr = settings.oidc_required_amr.strip()
        self._seal_key = OctKey.import_key(HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None,
            info=b"rogatory oidc login cookie").derive(
                settings.secret_key.get_secret_value().encode()))
        self._provider: tuple[float, Provider] | None = None
        self._keys: tuple[float, KeySet] | None = None
        self._spent: dict[str, int] = {}  # SHA-256 of a used state → when its login expires

    # -- the provider --------------------------------------------------------------------------

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT) as http:
                response = await http.get(url, headers={"Accept": "application/json"})
                response.raise_for_status()
                document = response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            raise OidcRefused(f"{what} could not be fetched: {type(exc).__name__}") from exc
        if not isinstance(document, dict):
            raise OidcRefused(f"{what} is not a JSON object")
        return document

    async def provider(self) -> Provider:
        """The provider's discovery document (OpenID Connect Discovery 1.0), checked: the same
        issuer as configured, endpoints over https (or loopback), an asymmetric algorithm."""
        now = time.monotonic()
        if self._provider is not None and now - self._provider[0] < METADATA_LIFETIME:
            return self._provider[1]
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        meta = await self._get_json(url, "the discovery document")
        if meta.get("issuer") != self.issuer:
            raise OidcRefused("the discovery document names another issuer")
        endpoints = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = meta.get(name)
            if not isinstance(value, str) or not https_or_loopback(value):
                raise OidcRefused(f"the discovery document has no usable {name}")
            endpoints[name] = value
        announced = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = tuple(a for a in SIGNING_ALGORITHMS
                           if isinstance(announced, list) and a in announced)
        if not algorithms:
            raise OidcRefused("the provider signs ID tokens with no algorithm accepted here")
        methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if "client_secret_basic" in methods:
            method = "client_secret_basic"
        elif "client_secret_post" in methods:
            method = "client_secret_post"
        else:
            raise OidcRefused("the token endpoint takes neither client_secret_basic nor _post")
        pkce = meta.get("code_challenge_methods_supported")
        if isinstance(pkce, list) and "S256" not in pkce:
            raise OidcRefused("the provider does not support PKCE with S256")
        provider = Provider(issuer=self.issuer, algorithms=algorithms, token_auth_method=method,
                            **endpoints)
        self._provider = (now, provider)
        return provider

    async def _key_set(self, provider: Provider, refresh: bool = False) -> KeySet:
        now = time.monotonic()
        if not refresh and self._keys is not None and now - self._keys[0] < METADATA_LIFETIME:
            return self._keys[1]
        document = await self._get_json(provider.jwks_uri, "the provider's keys")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise OidcRefused(f"the provider's keys are unusable: {type(exc).__name__}") from exc
        self._keys = (now, keys)
        return keys

    def _oauth(self, provider: Provider, redirect_uri: str) -> Any:
        return AsyncOAuth2Client(
            client_id=self.client_id, client_secret=self.client_secret.get_secret_value(),
            token_endpoint_auth_method=provider.token_auth_method, scope=self.scope,
            redirect_uri=redirect_uri, code_challenge_method="S256", timeout=HTTP_TIMEOUT)

    # -- the login in progress -----------------------------------------------------------------

    async def start(self, redirect_uri: str, next_path: str, now: datetime
                    ) -> tuple[str, PendingLogin]:
        """Where to send the browser (the provider's authorization endpoint), and the login in
        progress to keep in its cookie: a fresh state, nonce and PKCE verifier."""
        provider = await self.provider()
        pending = PendingLogin(
            state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64), next_path=next_path,
            expires_at=int((now + LOGIN_LIFETIME).timestamp()))
        async with self._oauth(provider, redirect_uri) as oauth:
            url, _state = oauth.create_authorization_url(
                provider.authorization_endpoint, state=pending.state,
                code_verifier=pending.code_verifier, nonce=pending.nonce)
        return str(url), pending

    def seal(self, pending: PendingLogin) -> str:
        """The login in progress as the cookie's value: a JWE (dir, A256GCM)."""
        claims = {"state": pending.state, "nonce": pending.nonce, "pkce": pending.code_verifier,
                  "next": pending.next_path, "exp": pending.expires_at}
        return jwt.encode({"alg": "dir", "enc": "A256GCM"}, claims, self._seal_key,
                          registry=_SEAL)

    def unseal(self, value: str | None, now: datetime) -> PendingLogin:
        """The login in progress from the cookie: made by this node, and not expired."""
        if not value:
            raise OidcRefused("no login in progress (the cookie is missing)")
        try:
            claims = jwt.decode(value, self._seal_key, registry=_SEAL).claims
            jwt.JWTClaimsRegistry(now=int(now.timestamp()), exp={"essential": True}).validate(
                claims)
            return PendingLogin(
                state=str(claims["state"]), nonce=str(claims["nonce"]),
                code_verifier=str(claims["pkce"]), next_path=str(claims["next"]),
                expires_at=int(claims["exp"]))
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise OidcRefused(f"the login cookie is invalid or expired: {type(exc).__name__}"
                              ) from exc

    def _spend(self, pending: PendingLogin, now: datetime) -> None:
        """Use up the state of a login in progress: its cookie is good for one callback."""
        instant = int(now.timestamp())
        self._spent = {k: v for k, v in self._spent.items() if v > instant}
        digest = hashlib.sha256(pending.state.encode()).hexdigest()
        if digest in self._spent:
            raise OidcRefused("this login's state was already used (a replayed cookie)")
        self._spent[digest] = pending.expires_at

    async def finish(self, pending: PendingLogin, params: Mapping[str, str], redirect_uri: str,
                     now: datetime) -> str:
        """The username of the person the provider authenticated, after the callback's `state`
        matched the cookie's, the code was exchanged and the ID token passed every check."""
        if "error" in params:
            raise OidcRefused(f"the provider answered error={_printable(params['error'])!r}")
        state = params.get("state", "")
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise OidcRefused("the callback's state is not the login cookie's")
        self._spend(pending, now)
        code = params.get("code")
        if not code:
            raise OidcRefused("the callback has no code")
        provider = await self.provider()
        try:
            async with self._oauth(provider, redirect_uri) as oauth:
                token = await oauth.fetch_token(
                    provider.token_endpoint, grant_type="authorization_code", code=code,
                    code_verifier=pending.code_verifier, redirect_uri=redirect_uri)
        except OAuthError as exc:
            raise OidcRefused(f"the token endpoint refused: {_printable(exc.error)}") from exc
        except (httpx2.HTTPError, ValueError) as exc:
            raise OidcRefused(f"the token endpoint failed: {type(exc).__name__}") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcRefused("the token response has no ID token")
        access_token = token.get("access_token")
        claims = await self._verify(provider, id_token, pending.nonce,
                                    access_token if isinstance(access_token, str) else None, now)
        amr = claims.get("amr")
        if not isinstance(amr, list) or self.required_amr not in amr:
            raise OidcRefused(f"the ID token's amr {_printable(amr)} lacks "
                              f"{self.required_amr!r}: no second factor")
        username = claims.get(self.username_claim)
        if not isinstance(username, str) or not username:
            raise OidcRefused(f"the ID token has no {self.username_claim!r} claim")
        return username

    async def _verify(self, provider: Provider, id_token: str, nonce: str,
                      access_token: str | None, now: datetime) -> dict[str, Any]:
        """The ID token's claims once its signature and claims are checked."""
        try:
            keys = await self._key_set(provider)
            try:
                token = jwt.decode(id_token, keys, algorithms=provider.algorithms)
            except InvalidKeyIdError:  # keys rotated since they were fetched
                keys = await self._key_set(provider, refresh=True)
                token = jwt.decode(id_token, keys, algorithms=provider.algorithms)
            options = {
                "iss": {"essential": True, "value": provider.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "exp": {"essential": True},
                "iat": {"essential": True},
                "sub": {"essential": True},
                "nonce": {"essential": True, "value": nonce},
            }
            claims = CodeIDToken(token.claims, token.header, options, {
                "nonce": nonce, "client_id": self.client_id, "access_token": access_token})
            claims.validate(now=int(now.timestamp()), leeway=LEEWAY)
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise OidcRefused(f"the ID token was refused: {type(exc).__name__} "
                              f"{_printable(exc)}") from exc
        return dict(claims)
