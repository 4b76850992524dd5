"""Queues, categories, SLA policies, articles, settings: who may change what."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_queues_need_manage(world, api):
    body = {"organization_id": world.acme.pk, "name": "Service desk"}
    assert api.as_(world.technician).post("queues", body).status_code == 403
    r = api.as_(world.admin).post("queues", body)
    assert r.status_code == 201, r.content
    assert api.as_(world.admin).post("queues", body).status_code == 409
    qid = r.json()["id"]
    assert api.as_(world.viewer).get("queues").json()["count"] == 1
    assert api.as_(world.admin).patch(f"queues/{qid}", {"name": "L1"}).json()["name"] == "L1"
    assert api.as_(world.admin).delete(f"queues/{qid}").status_code == 204


def test_sla_policy_crud_validates_the_calendar(world, api):
    client = api.as_(world.admin)
    bad = {
        "organization_id": world.acme.pk,
        "name": "x",
        "weekly_hours": {"mon": [["18:00", "09:00"]]},
    }
    assert client.post("sla-policies", bad).status_code == 400
    body = {
        "organization_id": world.acme.pk,
        "name": "Berlin office",
        "time_zone": "Europe/Berlin",
        "is_default": True,
        "weekly_hours": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]},
        "targets": {"P1": {"first_response": 15, "resolution": 120}},
        "holidays": [{"date": "2026-12-25", "name": "Christmas"}],
    }
    r = client.post("sla-policies", body)
    assert r.status_code == 201, r.content
    assert r.json()["holidays"] == [{"date": "2026-12-25", "name": "Christmas"}]
    pid = r.json()["id"]
    r = client.patch(f"sla-policies/{pid}", {"pause_on_hold": False, "holidays": []})
    assert r.json()["pause_on_hold"] is False and r.json()["holidays"] == []
    assert api.as_(world.technician).patch(f"sla-policies/{pid}", {"name": "x"}).status_code == 403


def test_articles_public_to_requesters_only_when_published(world, api):
    tech = api.as_(world.technician)
    draft = tech.post(
        "kb/articles", {"organization_id": world.acme.pk, "title": "Draft", "body": "x"}
    )
    assert draft.status_code == 201, draft.content
    public = tech.post(
        "kb/articles",
        {
            "organization_id": world.acme.pk,
            "title": "Reset password",
            "body": "**Go** to",
            "public": True,
            "published": True,
        },
    ).json()
    assert "<strong>Go</strong>" in public["body_html"]
    req = api.as_(world.requester)
    assert [a["title"] for a in req.get("kb/articles").json()["items"]] == ["Reset password"]
    assert req.get(f"kb/articles/{draft.json()['id']}").status_code == 404
    assert req.patch(f"kb/articles/{public['id']}", {"title": "x"}).status_code == 403


def test_markdown_is_sanitized(world, api, ticket_of):
    t = ticket_of(description="<script>alert(1)</script> [x](javascript:alert(1))")
    body = api.as_(world.technician).get(f"tickets/{t.pk}").json()
    assert "<script" not in body["description_html"]
    assert 'href="javascript' not in body["description_html"]


def test_settings_and_device_assignments(world, api):
    r = api.as_(world.admin).patch(
        f"helpdesk-settings/{world.acme.pk}", {"requesters_see_org_tickets": True}
    )
    assert r.json()["requesters_see_org_tickets"] is True
    assert (
        api.as_(world.technician)
        .patch(f"helpdesk-settings/{world.acme.pk}", {"auto_close_days": 1})
        .status_code
        == 403
    )
    r = api.as_(world.technician).post(
        "device-assignments", {"device_id": world.acme_device.pk, "user_id": world.requester.pk}
    )
    assert r.status_code == 201
    r = api.as_(world.technician).post(
        "device-assignments", {"device_id": world.acme_device.pk, "user_id": world.outsider.pk}
    )
    assert r.status_code == 400


def test_ticket_routes_end_to_end(world, api):
    r = api.as_(world.requester).post(
        "tickets", {"organization_id": world.acme.pk, "subject": "Mouse broken"}
    )
    assert r.status_code == 201, r.content
    tid = r.json()["id"]
    assert (
        api.as_(world.technician)
        .post(f"tickets/{tid}/assign", {"me": True})
        .json()["assignee"]["id"]
        == world.technician.pk
    )
    r = api.as_(world.technician).patch(
        f"tickets/{tid}", {"tags": ["Hardware"], "impact": "high", "urgency": "high"}
    )
    assert r.json()["tags"] == ["hardware"] and r.json()["priority"] == "P1"
    assert (
        api.as_(world.technician).post(f"tickets/{tid}/time-entries", {"minutes": 20}).status_code
        == 201
    )
    assert api.as_(world.technician).get(f"tickets/{tid}/time-entries").json()["count"] == 1
    assert (
        api.as_(world.technician)
        .post(f"tickets/{tid}/resolve", {"note": "Replaced"})
        .json()["status"]
        == "resolved"
    )
    assert (
        api.as_(world.requester)
        .post(f"tickets/{tid}/replies", {"body": "Still broken"})
        .status_code
        == 201
    )
    assert api.as_(world.technician).get(f"tickets/{tid}").json()["status"] == "open"
    assert api.as_(world.requester).post(f"tickets/{tid}/close", {}).json()["status"] == "closed"
    assert api.as_(world.requester).post(f"tickets/{tid}/reopen", {}).status_code == 403
    assert api.as_(world.technician).post(f"tickets/{tid}/reopen", {}).json()["status"] == "open"
    assert (
        api.as_(world.technician).post(f"tickets/{tid}/follow").json()["followers"][0]["id"]
        == world.technician.pk
    )
    assert api.as_(world.technician).get("tickets?assignee=me&status=active").json()["count"] == 1
    assert api.as_(world.technician).get("tickets?assignee=unassigned").json()["count"] == 0
