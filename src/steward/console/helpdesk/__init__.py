"""The help desk console for staff: queues, tickets, knowledge base admin, reports.

Views only carry requests to ``steward.helpdesk`` (services, visibility, filters, search,
attachments, reports): every rule lives there.
"""
