"""The requester portal under /portal/: my tickets, open a ticket, the public conversation,
the public knowledge base. Anyone signed in may use it; what they see is decided by
``helpdesk.visibility`` and, on top of it, the portal never shows internal notes or time.
"""
