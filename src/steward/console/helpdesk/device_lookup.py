"""Find the device a technician typed, for linking it to a ticket.

The ticket page and the new-ticket form used to offer a ``<select>`` of the first 300 (500)
devices by host name: in an organization with more, the rest could not be linked from the
console at all. They now take a host name in a text field, with a ``<datalist>`` of the
first names as suggestions, and look the name up here among the devices the user may link.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from steward.inventory.models import Device

SUGGESTIONS_MAX = 300  # names offered in the datalist; any other can still be typed


class DeviceNotFound(ValueError):
    """No device, or more than one, answers to the name typed; the message says which."""


def find_device(devices: QuerySet[Device], typed: str) -> Device:
    """The one device of ``devices`` whose host name, display name or FQDN is ``typed``
    (case-insensitive); raises ``DeviceNotFound`` with a message for the user."""
    name = typed.strip()
    if not name:
        raise DeviceNotFound("Type a device's host name.")
    same = Q(hostname__iexact=name) | Q(display_name__iexact=name) | Q(fqdn__iexact=name)
    found = list(devices.filter(same).defer("inventory", "notes")[:10])
    if not found:
        raise DeviceNotFound(f"No device named {name!r} that you can link here.")
    if len(found) > 1:
        exact = [d for d in found if d.hostname.lower() == name.lower()]
        if len(exact) != 1:
            raise DeviceNotFound(f"Several devices answer to {name!r}: type the host name.")
        return exact[0]
    return found[0]


def suggestions(devices: QuerySet[Device]) -> list[str]:
    """Host names for the datalist, first ``SUGGESTIONS_MAX`` by name."""
    rows = devices.order_by("hostname").values_list("hostname", flat=True)
    return list(rows[:SUGGESTIONS_MAX])
