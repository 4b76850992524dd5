"""The /api/v1 NinjaAPI: every router, one authentication, one error shape."""

from __future__ import annotations

from ninja import NinjaAPI

from steward import __version__
from steward.accounts.api import router as accounts_router
from steward.agentapi.api import router as agent_router
from steward.alerts.agent_api import router as agent_checks_router
from steward.alerts.api import router as alerts_router
from steward.api import errors
from steward.api.auth import SessionAuth, TokenAuth
from steward.audit.api import router as audit_router
from steward.helpdesk.api import router as helpdesk_router
from steward.insights.api import router as insights_router
from steward.inventory.api import router as inventory_router
from steward.metrics.agent import router as agent_metrics_router
from steward.metrics.agent_scrapes import router as agent_scrapes_router
from steward.metrics.api import router as metrics_router
from steward.metrics.write import router as metrics_write_router
from steward.notify.api import router as notify_router
from steward.tenancy.api import router as tenancy_router

api = NinjaAPI(
    title="Steward API",
    version=__version__,
    description="Everything the console does, for scripts and integrations. "
    "Authenticate with `Authorization: Bearer <token>` (create one with "
    "`steward token create` or in the console under API tokens).",
    auth=[TokenAuth(), SessionAuth()],
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api)
api.add_router("/", accounts_router)
api.add_router("/", tenancy_router)
api.add_router("/", inventory_router)
api.add_router("/", audit_router)
api.add_router("/", notify_router)
api.add_router("/", helpdesk_router)
api.add_router("/", insights_router)
api.add_router("/", alerts_router)
api.add_router("/", metrics_router)
api.add_router("/", metrics_write_router)
api.add_router("/agent", agent_router)
api.add_router("/agent", agent_metrics_router)
api.add_router("/agent", agent_checks_router)
api.add_router("/agent", agent_scrapes_router)
