"""The alerts app's API routers, mounted at /api/v1 by steward.api.v1."""

from ninja import Router

from steward.alerts.api import alerts, config, monitoring

router = Router()
router.add_router("/", alerts.router)
router.add_router("/", config.router)
router.add_router("/", monitoring.router)

__all__ = ["router"]
