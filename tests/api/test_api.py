"""The REST API on SQLite and PostgreSQL: an EPOC from draft to executed as the different
parties, error shapes (401, 404, 409, 422 in the reader's language), and the OpenAPI schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import World
from rogatory.app import create_app
from rogatory.clock import ManualClock
from rogatory.config import Settings
from rogatory.i18n import translate

FORM: dict[str, Any] = {
    "issuing_file_number": "PARQUET-J3-2026-0417",
    "addressee_name": "Atlas Hosting GmbH",
    "addressee_capacity": "legal_representative",
    "identifiers": "ops@lockstorm.example",
    "offence_description": "Rançongiciel contre des hôpitaux",
    "necessity_and_proportionality": "Seule piste pour identifier l'administrateur.",
    "transfer_to_authority": "Parquet de Paris, J3",
    "contact_email": "j3@parquet-paris.example",
}


@pytest.fixture
def client(settings: Settings, clock: ManualClock, world: World) -> Iterator[TestClient]:
    app = create_app(settings, clock)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def auth(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}


def act(client: TestClient, world: World, who: str, rid: str, verb: str, version: int,
        **body: Any) -> Any:
    r = client.post(f"/api/v1/requests/{rid}/actions/{verb}",
                    json={"version": version, **body}, headers=auth(world, who))
    assert r.status_code == 200, r.text
    return r.json()


def create(client: TestClient, world: World, form: dict[str, Any] | None = None) -> Any:
    r = client.post("/api/v1/requests", headers=auth(world, "fr_prosecutor"), json={
        "case_reference": world.case_reference, "instrument": "epoc",
        "executing_authority_id": "de-atlas-hosting", "data_categories": ["subscriber"],
        "language": "fr", "form": FORM if form is None else form})
    return r


def test_epoc_through_the_api(client: TestClient, world: World, clock: ManualClock) -> None:
    r = create(client, world)
    assert r.status_code == 201, r.text
    body = r.json()
    rid = body["id"]
    assert body["state"] == "draft" and body["allowed_verbs"] == ["submit", "withdraw"]
    body = act(client, world, "fr_prosecutor", rid, "submit", body["version"])
    body = act(client, world, "fr_prosecutor", rid, "validate", body["version"])
    for name in ("offence_description", "necessity_and_proportionality"):
        r = client.put(f"/api/v1/requests/{rid}/translations/{name}",
                       headers=auth(world, "fr_prosecutor"),
                       json={"version": body["version"], "language": "en", "text": "English"})
        assert r.status_code == 200, r.text
        body = r.json()
    assert body["translations"] == {"offence_description": "provided",
                                    "necessity_and_proportionality": "provided"}
    body = act(client, world, "fr_prosecutor", rid, "send", body["version"])
    assert body["state"] == "received" and body["holder"] == "executing"
    assert body["holder_authority"].startswith("Atlas Hosting")
    deadline = body["deadlines"][0]
    assert deadline["kind"] == "execution" and deadline["status"] == "open"
    assert deadline["countdown"] == "10d 13h 30m left"
    # the provider sees it now, with the countdown moving with the clock
    from datetime import timedelta
    clock.advance(timedelta(days=1))
    seen = client.get(f"/api/v1/requests/{rid}", headers=auth(world, "de_provider")).json()
    assert seen["deadlines"][0]["countdown"] == "9d 13h 30m left"
    assert seen["allowed_verbs"] == ["acknowledge", "refuse"]
    version = seen["version"]
    for verb in ("acknowledge", "begin_review", "begin_execution", "execute"):
        version = act(client, world, "de_provider", rid, verb, version)["version"]
    final = client.get(f"/api/v1/requests/{rid}", headers=auth(world, "fr_prosecutor")).json()
    assert final["state"] == "executed" and final["deadlines"][0]["status"] == "met"
    timeline = client.get(f"/api/v1/requests/{rid}/timeline",
                          headers=auth(world, "de_provider")).json()
    assert [e["verb"] for e in timeline][-4:] == [
        "acknowledge", "begin_review", "begin_execution", "execute"]
    assert timeline[-1]["authority"].startswith("Atlas Hosting")
    listing = client.get("/api/v1/requests?state=executed",
                         headers=auth(world, "de_provider")).json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == rid


def test_unauthenticated_is_refused_everywhere(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    checked = 0
    for path, methods in schema["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        concrete = path.replace("{", "").replace("}", "")
        for method in methods:
            r = client.request(method.upper(), concrete, json={})
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.json()["code"] == "unauthenticated"
            bad = client.request(method.upper(), concrete, json={},
                                 headers={"Authorization": "Bearer rgt_forged"})
            assert bad.status_code == 401, (method, path)
            checked += 1
    assert checked >= 14


def test_validation_errors_name_fields_in_the_readers_language(
    client: TestClient, world: World
) -> None:
    r = create(client, world, dict(FORM, contact_email="nobody", addressee_capacity="friend"))
    assert r.status_code == 422
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert set(errors) == {"form.contact_email", "form.addressee_capacity"}
    french = client.post("/api/v1/requests?lang=fr", headers=auth(world, "fr_prosecutor"), json={
        "case_reference": world.case_reference, "instrument": "epoc",
        "executing_authority_id": "de-atlas-hosting", "data_categories": ["subscriber"],
        "form": dict(FORM, contact_email="nobody")})
    message = french.json()["errors"][0]["message"]
    assert french.json()["errors"][0]["field"] == "form.contact_email"
    assert message != errors["form.contact_email"]
    missing = client.post("/api/v1/requests", headers=auth(world, "fr_prosecutor"),
                          json={"instrument": "epoc"})
    assert missing.status_code == 422
    assert {"case_reference", "executing_authority_id", "data_categories"} <= {
        e["field"] for e in missing.json()["errors"]}


def test_conflicts_and_unknown_ids(client: TestClient, world: World) -> None:
    body = create(client, world).json()
    rid = body["id"]
    wrong = client.post(f"/api/v1/requests/{rid}/actions/send", json={"version": 1},
                        headers=auth(world, "fr_prosecutor"))
    assert wrong.status_code == 409
    assert wrong.json()["code"] == "invalid_transition"
    assert wrong.json()["allowed"] == ["submit", "withdraw"]
    act(client, world, "fr_prosecutor", rid, "submit", 1)
    stale = client.post(f"/api/v1/requests/{rid}/actions/withdraw",
                        json={"version": 1, "reason": "x"}, headers=auth(world, "fr_prosecutor"))
    assert stale.status_code == 409 and stale.json()["code"] == "stale_state"
    assert stale.json()["current_version"] == 2 and stale.json()["state"] == "validation"
    for who in ("it_outsider", "de_provider"):
        hidden = client.get(f"/api/v1/requests/{rid}", headers=auth(world, who))
        unknown = client.get("/api/v1/requests/nope", headers=auth(world, who))
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.json() == unknown.json()


def test_render_side_by_side(client: TestClient, world: World) -> None:
    rid = create(client, world).json()["id"]
    r = client.get(f"/api/v1/requests/{rid}/render?languages=fr,de",
                   headers=auth(world, "fr_prosecutor"))
    assert r.status_code == 200
    page = r.json()
    assert page["languages"] == ["fr", "de"] and page["source_language"] == "fr"
    field = next(f for s in page["sections"] for f in s["fields"]
                 if f["name"] == "offence_description")
    assert field["translate"] and field["translation_status"] == "needed"
    assert field["labels"]["fr"] != field["labels"]["de"]
    # a choice keeps its code as the value and reads as its label in each language
    capacity = next(f for s in page["sections"] for f in s["fields"]
                    if f["name"] == "addressee_capacity")
    assert capacity["value"] == "legal_representative"
    assert capacity["value_labels"] == {
        "fr": translate("A legal representative", "fr"),
        "de": translate("A legal representative", "de")}
    assert capacity["value_labels"]["fr"] != capacity["value_labels"]["de"] != \
        "A legal representative"
    free_text = next(f for s in page["sections"] for f in s["fields"]
                     if f["name"] == "offence_description")
    assert free_text["value_labels"] is None


def test_directory_catalogue_and_finder(client: TestClient, world: World) -> None:
    h = auth(world, "fr_prosecutor")
    states = client.get("/api/v1/jurisdictions", headers=h).json()
    assert len(states) >= 34
    assert client.get("/api/v1/jurisdictions/zz", headers=h).status_code == 404
    instruments = client.get("/api/v1/instruments", headers=h).json()
    assert {i["code"] for i in instruments} >= {"epoc", "epoc_pr", "eio"}
    epoc = client.get("/api/v1/instruments/epoc?lang=de", headers=h).json()
    assert epoc["verified"] is False and epoc["notice"]
    proposals = client.get("/api/v1/finder?requesting=FR&requested=DE&measure=production"
                           "&data_category=traffic", headers=h).json()
    assert proposals[0]["instrument_code"] == "epoc"
    assert proposals[0]["authority"]["id"] == "de-atlas-hosting"
    assert "explanation" not in proposals[0] and "are both bound by" in proposals[0]["reason"]
    german = client.get("/api/v1/finder?requesting=FR&requested=DE&measure=production"
                        "&data_category=traffic&lang=de", headers=h).json()
    assert german[0]["reason"] != proposals[0]["reason"]  # the reason in the reader's language
    assert "Reg. (EU) 2023/1543 Art. 4(2)" in german[0]["reason"]  # articles as they are
    bad = client.get("/api/v1/finder?requesting=FR&requested=FR&measure=production", headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "requested"


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"


def test_nul_characters_are_refused_by_name(client: TestClient, world: World) -> None:
    r = create(client, world, dict(FORM, identifiers="ops\x00@lockstorm.example"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "form"
    r = client.get("/api/v1/requests/abc%00def", headers=auth(world, "fr_prosecutor"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path"
    r = client.get("/api/v1/requests?q=a%00", headers=auth(world, "fr_prosecutor"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "q"


def test_unknown_state_filter_is_refused(client: TestClient, world: World) -> None:
    r = client.get("/api/v1/requests?state=bogus", headers=auth(world, "fr_prosecutor"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "state"


def test_case_reference_is_compared_as_stored(client: TestClient, world: World) -> None:
    h = auth(world, "fr_prosecutor")
    first = client.post("/api/v1/cases", headers=h, json={"reference": "FR-2026-X1",
                                                          "title": "One"})
    assert first.status_code == 201
    again = client.post("/api/v1/cases", headers=h, json={"reference": " FR-2026-X1\r",
                                                          "title": "Two"})
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "reference"
