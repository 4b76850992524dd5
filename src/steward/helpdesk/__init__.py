"""The help desk: tickets, replies, SLAs, knowledge base, reports and the alert hook.

Every rule lives in the services (``services``, ``visibility``, ``attachments``, ``merge``,
``slaclock``, ``search``, ``alerts``) so the API, the console, the requester portal and the
email gateway share them.
"""
