"""Against a real server on loopback: the live timeline (Server-Sent Events) shows the other
side's action without reloading."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from conftest import World

FORM = {
    "issuing_file_number": "F-1", "addressee_name": "Atlas Hosting GmbH",
    "addressee_capacity": "legal_representative", "identifiers": "ops@lockstorm.example",
    "offence_description": "Ransomware", "necessity_and_proportionality": "Only lead",
    "transfer_to_authority": "Parquet de Paris", "contact_email": "j3@parquet-paris.example",
}


@pytest.fixture
def server(live_server: str) -> str:
    return f"http://{live_server}"


def test_timeline_streams_the_other_sides_action(server: str, world: World) -> None:
    pro = {"Authorization": f"Bearer {world.tokens['fr_prosecutor']}"}
    provider = {"Authorization": f"Bearer {world.tokens['de_provider']}"}
    with httpx.Client(base_url=server, timeout=10) as c:
        body = c.post("/api/v1/requests", headers=pro, json={
            "case_reference": world.case_reference, "instrument": "epoc",
            "executing_authority_id": "de-atlas-hosting", "data_categories": ["subscriber"],
            "language": "en", "form": FORM}).json()
        rid = body["id"]
        for verb in ("submit", "validate", "send"):
            body = c.post(f"/api/v1/requests/{rid}/actions/{verb}", headers=pro,
                          json={"version": body["version"]}).json()
        last_id = c.get(f"/api/v1/requests/{rid}/timeline", headers=pro).json()[-1]["id"]
        seen: list[dict[str, object]] = []

        def watch() -> None:
            with httpx.stream("GET", f"{server}/api/v1/requests/{rid}/events", headers={
                    **pro, "Last-Event-ID": str(last_id)}, timeout=10) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        seen.append(json.loads(line[6:]))
                        return

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(0.5)
        assert seen == []  # nothing new yet: the stream resumed after Last-Event-ID
        r = c.post(f"/api/v1/requests/{rid}/actions/acknowledge", headers=provider,
                   json={"version": body["version"]})
        assert r.status_code == 200
        watcher.join(timeout=10)
        assert not watcher.is_alive()
        assert seen and seen[0]["verb"] == "acknowledge" and seen[0]["to_state"] == "acknowledged"
        outsider = {"Authorization": f"Bearer {world.tokens['it_outsider']}"}
        assert c.get(f"/api/v1/requests/{rid}/events", headers=outsider).status_code == 404
