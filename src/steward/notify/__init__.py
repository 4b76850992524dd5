"""Notification channels (email, webhook, apprise) and the delivery log.

Callers build a ``Message`` and hand it to ``enqueue()`` or ``send_now()``; the worker job
``deliver_due()`` sends what is due. See docs/notifications.md.
"""
