"""Console URLs: the core pages (sign-in, devices) and the management pages."""

from steward.console.alerts.urls import urlpatterns as alerts_patterns
from steward.console.core.urls import urlpatterns as core_patterns
from steward.console.helpdesk.urls import urlpatterns as helpdesk_patterns
from steward.console.manage.urls import urlpatterns as manage_patterns
from steward.console.metrics.urls import urlpatterns as metrics_patterns
from steward.console.portal.urls import urlpatterns as portal_patterns

app_name = "console"

urlpatterns = (
    core_patterns
    + manage_patterns
    + helpdesk_patterns
    + portal_patterns
    + metrics_patterns
    + alerts_patterns
)
