"""The help desk's email gateway: mail in over IMAP, ticket notices out over SMTP.

One folder for the integration (STYLE #6). Pure parts take plain data and know nothing of
Django: ``parse`` (a raw message to a ``ParsedMail``), ``quotes`` (strip quoted text),
``html`` (HTML to Markdown-ish text), ``loops`` (automatic mail and bounces), ``refs``
(``[#ACME-12]`` subject references). The Django side: ``models`` (mailboxes, the email
settings, the inbound and outbound logs), ``imap`` (the IMAP client facade), ``inbound``
(a message to a ticket or a reply, through ``helpdesk.services``), ``outbound`` (ticket
events to emails with threading headers) and ``jobs`` (the two worker jobs).
"""
