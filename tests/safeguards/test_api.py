"""The safeguards over HTTP, on SQLite and PostgreSQL: an intrusive EPOC assessed, decided and
notified through the API; errors naming fields in the reader's language; 404 for anyone not a
party; no route edits or deletes a decision; the public register without a token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import World
from rogatory.app import create_app
from rogatory.clock import ManualClock
from rogatory.config import Settings
from rogatory.requests import service as requests_service

from .conftest import EPOC_FORM, SECRET_NAME

ASSESSMENT: dict[str, Any] = {
    "offence": "Extortion and attacks on information systems (art. 312-1, 323-1 code pénal)",
    "maximum_penalty_years": 10,
    "necessity": f"Only the logs lead to {SECRET_NAME}.",
    "proportionality": "One account, three days.",
    "least_intrusive_alternative": "Subscriber data.",
    "alternative_insufficient_because": "They are false.",
    "data_from": "2026-11-01", "data_to": "2026-11-03",
    "data_scope": "Connection logs of one account.",
    "persons_affected": "The account holder.",
    "privileged_persons": ["none"],
}


@pytest.fixture
def app(settings: Settings, clock: ManualClock, world: World) -> Iterator[FastAPI]:
    application = create_app(settings, clock)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def auth(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def act(client: TestClient, world: World, who: str, rid: str, verb: str, version: int,
        **body: Any) -> Any:
    return ok(client.post(f"/api/v1/requests/{rid}/actions/{verb}",
                          json={"version": version, **body}, headers=auth(world, who)))


def submitted_traffic_epoc(client: TestClient, world: World) -> Any:
    created = ok(client.post("/api/v1/requests", headers=auth(world, "fr_judge"), json={
        "case_reference": world.case_reference, "instrument": "epoc",
        "executing_authority_id": "de-atlas-hosting", "data_categories": ["traffic"],
        "language": "fr", "form": EPOC_FORM}), 201)
    return act(client, world, "fr_judge", created["id"], "submit", created["version"])


def test_an_intrusive_epoc_assessed_decided_and_notified_over_http(
        client: TestClient, world: World) -> None:
    request = submitted_traffic_epoc(client, world)
    rid = request["id"]
    judge = auth(world, "fr_judge")
    refused = client.post(f"/api/v1/requests/{rid}/decisions", headers=judge, json={
        "stage": "validation", "outcome": "grant", "grounds": ["necessary"],
        "reasons": "Necessary.", "version": request["version"]})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["assessment_id"]
    assessment = ok(client.post(f"/api/v1/requests/{rid}/assessments", headers=judge,
                                json=ASSESSMENT), 201)
    assert assessment["current"] and assessment["threshold_problems"] == []
    decision = ok(client.post(f"/api/v1/requests/{rid}/decisions", headers=judge, json={
        "stage": "validation", "outcome": "grant", "grounds": ["necessary", "proportionate"],
        "reasons": "Necessary and proportionate.", "assessment_id": assessment["id"],
        "version": request["version"]}), 201)
    assert decision["outcome_label"] == "Granted"
    assert decision["grounds"][0] == {"code": "necessary",
                                      "label": "Necessary for the proceedings"}
    assert decision["decided_by"] == "fr_judge" and decision["assessment_id"] == assessment["id"]
    shown = ok(client.get(f"/api/v1/requests/{rid}", headers=judge))
    assert shown["state"] == "issued"
    version = shown["version"]
    for name in ("offence_description", "necessity_and_proportionality"):
        version = ok(client.put(f"/api/v1/requests/{rid}/translations/{name}", headers=judge,
                                json={"version": version, "language": "de",
                                      "text": "Übersetzung", "certified": True}))["version"]
    act(client, world, "fr_judge", rid, "send", version)
    notes = ok(client.get("/api/v1/notifications", headers=auth(world, "de_central")))
    assert [n["request_id"] for n in notes] == [rid]
    assert notes[0]["status"] == "pending" and notes[0]["countdown"].endswith("left")
    assert ok(client.get(f"/api/v1/requests/{rid}/notification",
                         headers=auth(world, "de_provider")))["suspensive"] is True
    assert notes[0]["certificate"]["form"]["identifiers"] == EPOC_FORM["identifiers"]
    audited = ok(client.get(f"/api/v1/requests/{rid}/notification",
                            headers=auth(world, "auditor")))
    assert audited["certificate"] == {} and audited["withheld"] == ["certificate"]
    listed = ok(client.get(f"/api/v1/requests/{rid}/decisions",
                           headers=auth(world, "de_provider")))
    assert [d["id"] for d in listed] == [decision["id"]]
    assert ok(client.get(f"/api/v1/decisions/{decision['id']}", headers=judge))["id"] == \
        decision["id"]


def test_errors_name_fields_in_the_readers_language(client: TestClient, world: World) -> None:
    rid = submitted_traffic_epoc(client, world)["id"]
    r = client.post(f"/api/v1/requests/{rid}/assessments?lang=fr",
                    headers=auth(world, "fr_judge"),
                    json={**ASSESSMENT, "necessity": "", "maximum_penalty_years": None})
    assert r.status_code == 422
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert set(errors) == {"necessity", "maximum_penalty_years"}
    assert errors["necessity"] == "Ce champ est obligatoire."
    r = client.post(f"/api/v1/requests/{rid}/actions/validate?lang=de",
                    headers=auth(world, "fr_judge"), json={"version": 2})
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["field"] == "assessment" and "5(4)" in error["message"]
    assert "Eingriff" in error["message"] or "Maßnahme" in error["message"]


def test_outsiders_get_the_same_404_as_for_unknown_requests(client: TestClient,
                                                            world: World) -> None:
    rid = submitted_traffic_epoc(client, world)["id"]
    outsider = auth(world, "it_outsider")
    for suffix in ("assessments", "decisions", "notification", "data", "non-execution",
                   "informing-deferrals"):
        hidden = client.get(f"/api/v1/requests/{rid}/{suffix}", headers=outsider)
        unknown = client.get(f"/api/v1/requests/no-such-request/{suffix}", headers=outsider)
        assert hidden.status_code == unknown.status_code == 404, suffix
        assert hidden.json() == unknown.json()


def test_no_route_edits_or_deletes_a_decision(app: FastAPI, client: TestClient,
                                              world: World) -> None:
    for path, methods in app.openapi()["paths"].items():
        if "decision" in path:
            assert set(methods) <= {"get", "post"}, path
    for method in ("PUT", "PATCH", "DELETE"):
        r = client.request(method, "/api/v1/decisions/any", headers=auth(world, "fr_judge"))
        assert r.status_code == 405


def test_tools_are_registered_by_a_judge(client: TestClient, world: World) -> None:
    body = {"name": "AddrCluster", "version": "1.4.0", "purpose": "Clusters addresses",
            "error_rates": "2.1% false merges", "bias_assessment": "None identified"}
    assert client.post("/api/v1/tools", json=body,
                       headers=auth(world, "fr_prosecutor")).status_code == 403
    tool = ok(client.post("/api/v1/tools", json=body, headers=auth(world, "fr_judge")), 201)
    assert tool["approved_by"] == "fr_judge"
    listed = ok(client.get("/api/v1/tools", headers=auth(world, "de_provider")))
    assert [t["id"] for t in listed] == [tool["id"]]
    again = client.post("/api/v1/tools", json=body, headers=auth(world, "fr_judge"))
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "version"


def test_the_public_register_needs_no_token_and_names_nobody(client: TestClient,
                                                             world: World) -> None:
    request = submitted_traffic_epoc(client, world)
    rid = request["id"]
    ok(client.post(f"/api/v1/requests/{rid}/assessments", headers=auth(world, "fr_judge"),
                   json=ASSESSMENT), 201)
    ok(client.post(f"/api/v1/requests/{rid}/decisions", headers=auth(world, "fr_judge"), json={
        "stage": "validation", "outcome": "deny", "grounds": ["disproportionate"],
        "reasons": f"Too broad for {SECRET_NAME}.", "version": request["version"]}), 201)
    published = ok(client.get("/public/register?lang=de"))
    assert published["decisions"] == 1
    assert published["rows"] == [{"instrument": "epoc", "stage": "validation",
                                  "outcome": "deny", "grounds": ["disproportionate"],
                                  "legal_basis": "Reg. (EU) 2023/1543 Art. 4(2); "
                                                 "Reg. (EU) 2023/1543 Art. 5(4)",
                                  "month": "2026-11"}]
    assert published["by_outcome"] == [{"instrument": "epoc", "stage": "validation",
                                        "outcome": "deny", "count": 1}]
    text = client.get("/public/register").text
    for secret in (SECRET_NAME, rid, request["reference"], "fr_judge",
                   "fr-tj-paris-instruction", world.case_reference):
        assert secret not in text
    assert ok(client.get("/public/register?instrument=eio"))["rows"] == []


def test_the_auditor_sees_metadata_not_content(client: TestClient, world: World) -> None:
    """Field-level minimization (`identity.policy.sees_request_content`): the oversight auditor
    sees that an assessment exists, its threshold and its decision, not what it says about the
    case and the persons; nor the certificate copied into a notification."""
    request = submitted_traffic_epoc(client, world)
    rid = request["id"]
    judge, auditor = auth(world, "fr_judge"), auth(world, "auditor")
    ok(client.post(f"/api/v1/requests/{rid}/assessments", headers=judge, json=ASSESSMENT), 201)
    [seen] = ok(client.get(f"/api/v1/requests/{rid}/assessments", headers=auditor))
    assert seen["maximum_penalty_years"] == 10 and seen["threshold_problems"] == []
    assert seen["necessity"] == seen["persons_affected"] == ""
    assert {"necessity", "persons_affected", "offence"} <= set(seen["withheld"])
    [full] = ok(client.get(f"/api/v1/requests/{rid}/assessments", headers=judge))
    assert SECRET_NAME in full["necessity"] and full["withheld"] == []


def test_issue_without_prior_validation_over_http_art_4_5(
        app: FastAPI, client: TestClient, world: World, clock: ManualClock,
        police: str) -> None:
    """Reg. (EU) 2023/1543 Art. 4(5) through `POST /requests/{id}/actions/{verb}`: refusals
    name the field and the article in the reader's language; the police's emergency EPOC is
    issued, sent and, left without validation for 48 hours, lapses when the deadline job runs —
    the provider sees it withdrawn and the data received are restricted."""
    def draft(who: str, **body: Any) -> Any:
        return ok(client.post("/api/v1/requests", headers=auth(world, who), json={
            "case_reference": world.case_reference, "instrument": "epoc",
            "executing_authority_id": "de-atlas-hosting", "data_categories": ["subscriber"],
            "emergency": True, "language": "fr", "form": EPOC_FORM, **body}), 201)

    judges = draft("fr_judge")
    assert "issue_emergency" not in judges["allowed_verbs"]
    r = client.post(f"/api/v1/requests/{judges['id']}/actions/issue_emergency?lang=de",
                    headers=auth(world, "fr_judge"), json={"version": 1, "reason": "Urgent."})
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["field"] == "issuing_authority_id"
    assert error["message"].endswith("(Reg. (EU) 2023/1543 Art. 4(5)).")
    assert "investigating_judge" in error["message"] and "Behörde" in error["message"]

    created = draft(police, validating_authority_id="fr-parquet-paris-j3")
    rid = created["id"]
    assert created["allowed_verbs"] == ["submit", "withdraw", "issue_emergency"]
    r = client.post(f"/api/v1/requests/{rid}/actions/issue_emergency",
                    headers=auth(world, police), json={"version": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    issued = act(client, world, police, rid, "issue_emergency", 1,
                 reason="Imminent threat to a person's life.")
    assert issued["state"] == "issued"
    [due] = issued["deadlines"]
    assert (due["kind"], due["holder"], due["legal_basis"], due["verified"]) == (
        "ex_post_validation", "validating", "Reg. (EU) 2023/1543 Art. 4(5)", False)
    assert due["remaining_seconds"] == 48 * 3600
    prosecutor = ok(client.get(f"/api/v1/requests/{rid}", headers=auth(world, "fr_prosecutor")))
    assert prosecutor["allowed_verbs"] == ["validate_ex_post", "refuse_ex_post"]
    timeline = ok(client.get(f"/api/v1/requests/{rid}/timeline", headers=auth(world, police)))
    assert timeline[-1]["verb"] == "issue_emergency"
    assert timeline[-1]["legal_basis"] == "Reg. (EU) 2023/1543 Art. 4(5)"
    assert timeline[-1]["details"]["ex_post_validation_due_at"] == due["due_at"].replace(
        "Z", "+00:00")
    version = issued["version"]
    for name in ("offence_description", "necessity_and_proportionality"):
        version = ok(client.put(f"/api/v1/requests/{rid}/translations/{name}",
                                headers=auth(world, police),
                                json={"version": version, "language": "de",
                                      "text": "Übersetzung", "certified": True}))["version"]
    sent = act(client, world, police, rid, "send", version)
    assert "lapse" not in sent["allowed_verbs"]
    r = client.post(f"/api/v1/requests/{rid}/actions/lapse", headers=auth(world, police),
                    json={"version": sent["version"]})
    assert r.status_code == 403
    item = ok(client.post(f"/api/v1/requests/{rid}/data", headers=auth(world, police), json={
        "category": "subscriber", "description": "Account holder", "purpose": "The case",
        "retention_until": "2028-11-02"}), 201)
    assert item["restricted"] is False

    clock.advance(timedelta(hours=48, minutes=1))
    with app.state.session_factory() as session:
        lapsed = requests_service.scan_deadlines(session=session, clock=clock)
        # the provider's 8 hours (Art. 10(4)) passed too
        assert [d.kind for d in lapsed] == ["execution", "ex_post_validation"]
        session.commit()
    provider = ok(client.get(f"/api/v1/requests/{rid}", headers=auth(world, "de_provider")))
    assert provider["state"] == "withdrawn" and provider["allowed_verbs"] == []
    events = ok(client.get(f"/api/v1/requests/{rid}/timeline",
                           headers=auth(world, "de_provider")))
    assert [e["verb"] for e in events[-2:]] == ["deadline_breached", "lapse"]
    assert events[-1]["actor"] is None
    [restricted] = ok(client.get(f"/api/v1/requests/{rid}/data", headers=auth(world, police)))
    assert restricted["restricted"] is True
    assert restricted["restriction_reason"] == "ex_post_validation_lapsed"
    assert restricted["restriction_basis"] == "Reg. (EU) 2023/1543 Art. 4(5)"
    r = client.post(f"/api/v1/requests/{rid}/actions/validate_ex_post",
                    headers=auth(world, "fr_prosecutor"), json={"version": provider["version"]})
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
