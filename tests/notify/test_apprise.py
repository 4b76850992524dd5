"""Apprise, pointed at the loopback HTTP receiver with its json:// and form:// plugins."""

from __future__ import annotations

import json

import pytest

from steward.notify import services
from steward.notify.dispatch import deliver_due
from steward.notify.message import Message, Severity
from steward.notify.models import Delivery
from steward.notify.queue import enqueue

pytestmark = pytest.mark.django_db


def apprise_channel(world, url: str, name: str = "chat"):
    channel, _ = services.create_channel(
        world.acme.pk, name, "apprise", {"timeout": 2}, {"url": url}
    )
    return channel


def test_it_delivers_through_the_json_plugin(world, receiver):
    url = receiver.base.replace("http://", "json://") + "/apprise"
    enqueue(
        apprise_channel(world, url),
        Message(subject="Printer offline", text="HP-3", severity=Severity.CRITICAL),
    )
    assert deliver_due() == {"sent": 1}
    (request,) = receiver.to("/apprise")
    body = json.loads(request.body)
    assert body["title"] == "Printer offline" and body["message"] == "HP-3"
    assert body["type"] == "failure"


def test_it_delivers_through_the_form_plugin(world, receiver):
    url = receiver.base.replace("http://", "form://") + "/form"
    enqueue(apprise_channel(world, url), Message(subject="Hello", text="from apprise"))
    assert deliver_due() == {"sent": 1}
    assert b"from+apprise" in receiver.to("/form")[0].body


def test_a_refusing_service_is_retried_with_apprise_s_explanation(world, receiver):
    url = receiver.base.replace("http://", "json://") + "/down"
    enqueue(apprise_channel(world, url), Message(subject="x", text="y"))
    assert deliver_due() == {"failed": 1}
    error = Delivery.objects.get().last_error
    assert error.startswith("apprise (JSON):") and "500" in error


def test_an_url_apprise_does_not_know_is_rejected():
    with pytest.raises(services.InvalidSettings, match=r"secrets\.url"):
        services.validate("apprise", {}, {"url": "nosuchservice://x"})
