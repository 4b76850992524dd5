"""The help desk API, mounted by ``steward.api.v1`` at /api/v1/ (one router, five parts)."""

from ninja import Router

from steward.helpdesk.api import admin, email, kb, reports, tickets

router = Router(tags=["helpdesk"])
router.add_router("", tickets.router)
router.add_router("", admin.router)
router.add_router("", kb.router)
router.add_router("", reports.router)
router.add_router("", email.router)

__all__ = ["router"]
