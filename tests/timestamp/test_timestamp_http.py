"""The built-in TSA over HTTP (RFC 3161 §3.4): `POST /tsa` through FastAPI's TestClient, the
client against a live uvicorn server on loopback, and the `timestamper`."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from timestamp_support import decode, openssl_verify, tst_info

from conftest import serving
from rogatory.clock import ManualClock
from rogatory.config import Settings
from rogatory.errors import VerificationError
from rogatory.timestamp.api import MAX_QUERY_BYTES, router
from rogatory.timestamp.authority import ensure_tsa, make_request
from rogatory.timestamp.client import TimestampUnavailable, request_timestamp, timestamper
from rogatory.timestamp.verify import verify_token

QUERY = {"Content-Type": "application/timestamp-query"}
DIGEST = hashlib.sha256(b"custody event 7").digest()


@pytest.fixture(scope="module")
def tsa_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("tsa-http"), secret_key="test-secret")


def tiny_app(settings: Settings) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    app.include_router(router)
    return app


@pytest.fixture(scope="module")
def client(tsa_settings: Settings) -> Iterator[TestClient]:
    with TestClient(tiny_app(tsa_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def server(tsa_settings: Settings) -> Iterator[str]:
    with serving(tiny_app(tsa_settings)) as address:
        yield f"http://{address}"


def test_post_tsa_grants_a_token(client: TestClient, tsa_settings: Settings,
                                 tmp_path: Path) -> None:
    r = client.post("/tsa", content=make_request(DIGEST, nonce=5), headers=QUERY)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/timestamp-reply"
    tsa = ensure_tsa(tsa_settings)
    info = verify_token(r.content, digest=DIGEST, ca_pem=tsa.ca_pem)
    assert info.nonce == 5
    result = openssl_verify(tmp_path, r.content, DIGEST, tsa)
    assert result.returncode == 0 and "Verification: OK" in result.stdout


def test_post_tsa_uses_the_app_clock(tsa_settings: Settings) -> None:
    app = tiny_app(tsa_settings)
    when = datetime.now(UTC).replace(microsecond=0)
    app.state.clock = ManualClock(when)
    with TestClient(app) as c:
        r = c.post("/tsa", content=make_request(DIGEST), headers=QUERY)
    assert tst_info(r.content)["gen_time"].native == when


def test_post_tsa_rejects_in_the_reply(client: TestClient) -> None:
    r = client.post("/tsa", content=b"\x30\x00", headers=QUERY)
    assert r.status_code == 200 and r.headers["content-type"] == "application/timestamp-reply"
    status = decode(r.content)["status"]
    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {"bad_data_format"}


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=600),
                 st.binary(max_size=40).map(lambda tail: make_request(DIGEST)[:-7] + tail)))
def test_post_tsa_answers_any_bytes_with_a_reply(client: TestClient, body: bytes) -> None:
    r = client.post("/tsa", content=body, headers=QUERY)
    assert r.status_code == 200
    assert decode(r.content)["status"]["status"].native in ("granted", "rejection")


def test_post_tsa_wants_the_query_media_type(client: TestClient) -> None:
    r = client.post("/tsa", content=make_request(DIGEST),
                    headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 415
    assert "application/timestamp-query" in r.text


def test_post_tsa_refuses_a_huge_body(client: TestClient) -> None:
    r = client.post("/tsa", content=b"\x00" * (MAX_QUERY_BYTES + 1), headers=QUERY)
    assert r.status_code == 413


def test_certificates_are_served(client: TestClient, tsa_settings: Settings) -> None:
    r = client.get("/tsa/certs.pem")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pem-certificate-chain"
    tsa = ensure_tsa(tsa_settings)
    assert x509.load_pem_x509_certificates(r.content) == [tsa.cert, tsa.ca_cert]


@pytest.mark.parametrize("hash_name", ["sha256", "sha512"])
def test_client_against_a_live_server(server: str, tsa_settings: Settings, tmp_path: Path,
                                      hash_name: str) -> None:
    digest = hashlib.new(hash_name, b"evidence").digest()
    reply = request_timestamp(f"{server}/tsa", digest, timeout=10)
    tsa = ensure_tsa(tsa_settings)
    info = verify_token(reply, data=b"evidence", ca_pem=tsa.ca_pem)
    assert info.hash_algorithm == hash_name and info.nonce is not None
    result = openssl_verify(tmp_path, reply, digest, tsa)
    assert result.returncode == 0 and "Verification: OK" in result.stdout


def test_client_names_what_went_wrong(server: str) -> None:
    with pytest.raises(TimestampUnavailable, match="answered HTTP 404, not 200"):
        request_timestamp(f"{server}/nowhere", DIGEST, timeout=10)
    with pytest.raises(TimestampUnavailable, match="answered HTTP 405, not 200"):
        request_timestamp(f"{server}/tsa/certs.pem", DIGEST, timeout=10)
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(TimestampUnavailable, match="could not be reached"):
        request_timestamp(f"http://127.0.0.1:{closed}/tsa", DIGEST, timeout=5)
    with pytest.raises(ValueError, match="a 20-byte digest matches none"):
        request_timestamp(f"{server}/tsa", b"x" * 20, timeout=5)


def test_client_refuses_a_reply_for_another_request(tsa_settings: Settings) -> None:
    from rogatory.timestamp.client import check_reply

    tsa = ensure_tsa(tsa_settings)
    reply = tsa.respond(make_request(DIGEST, nonce=1), now=datetime.now(UTC))
    with pytest.raises(VerificationError, match="nonce 1 is not the request's 2"):
        check_reply(reply, digest=DIGEST, hash_name="sha256", nonce=2)
    other = hashlib.sha256(b"other").digest()
    with pytest.raises(VerificationError, match=f"stamped sha256 {DIGEST.hex()}, not the "
                       f"sha256 {other.hex()}"):
        check_reply(reply, digest=other, hash_name="sha256", nonce=1)


def test_timestamper_uses_the_builtin_tsa(tsa_settings: Settings) -> None:
    stamp = timestamper(tsa_settings)
    for data_hash in (DIGEST, hashlib.sha512(b"custody event 7").digest()):
        info = verify_token(stamp(data_hash), digest=data_hash,
                            ca_pem=ensure_tsa(tsa_settings).ca_pem)
        assert info.hashed_message == data_hash


def test_timestamper_uses_tsa_url_when_set(server: str, tsa_settings: Settings,
                                           tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "elsewhere", secret_key="test-secret",
                           tsa_url=f"{server}/tsa")
    reply = timestamper(settings)(DIGEST)
    assert not (tmp_path / "elsewhere").exists()  # no built-in TSA was made
    verify_token(reply, digest=DIGEST, ca_pem=ensure_tsa(tsa_settings).ca_pem)


def test_client_wants_the_reply_media_type(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    def html(url: str, **_: object) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/html"}, content=b"<html>")

    monkeypatch.setattr(httpx, "post", html)
    with pytest.raises(TimestampUnavailable, match="answered text/html, not "
                       "application/timestamp-reply"):
        request_timestamp("http://tsa.example/", DIGEST, timeout=1)
