from django.urls import include, path

from .views import audit, browse, bulk, channels, connectors, home, keys, notifications, overview, syncs, team
from .views import credentials as credential_views
from .views import oauth as oauth_views
from .views import preferences as preference_views

# A connector's pages, under its collection's: resolving a poll tries these, not every URL of the console.
connector_urls = [
    path("", connectors.connector_detail, name="connector_detail"),
    path("edit/", connectors.connector_edit, name="connector_edit"),
    path("delete/", connectors.connector_delete, name="connector_delete"),
    path("resume/", connectors.connector_resume, name="connector_resume"),
    path("reconnect-link/", credential_views.reconnect_link_create, name="reconnect_link_create"),
    path("browse/", browse.connector_browse, name="connector_browse"),
    path("sync/", syncs.sync_trigger, name="sync_trigger"),
    path("sync/cancel/", syncs.sync_cancel, name="sync_cancel"),
    path("sync/latest/", syncs.sync_latest, name="sync_latest"),
    path("sync/chart/", connectors.sync_chart, name="sync_chart"),
    path("syncs/", syncs.sync_list, name="sync_list"),
    path("syncs.csv", syncs.sync_list_csv, name="sync_list_csv"),
    path("syncs/<str:sync_id>/", syncs.sync_detail, name="sync_detail"),
    path("syncs/<str:sync_id>/retry/", syncs.sync_retry, name="sync_retry"),
]
collection_urls = [
    path("connectors/", connectors.connector_list, name="connector_list"),
    path("new-connector/", connectors.connector_create, name="connector_create"),
    path("latest-syncs/", syncs.sync_latest_batch, name="sync_latest_batch"),
    path("connectors/<str:connector_id>/", include(connector_urls)),
]

# One URL, one job. No fixed word sits where an id can: a connector whose id is "new", or a sync whose id is
# "latest", keeps its own page.
urlpatterns = [
    path("", home.home, name="home"),
    path("settings/api-keys/", keys.api_keys, name="api_keys"),
    path("settings/api-keys/delete/", keys.api_key_delete, name="api_key_delete"),
    path("audit/", audit.audit_log, name="audit_log"),
    path("audit/csv/", audit.audit_csv, name="audit_csv"),
    path("spaces/<uuid:space_id>/collections/<uuid:collection_id>/", include(collection_urls)),
    path("", include(notifications.urlpatterns)),
    path("", include(channels.urlpatterns)),
    path("", include(overview.urlpatterns)),
    path("", include(bulk.urlpatterns)),
    path("", include(team.urlpatterns)),
    path("", include(preference_views.urlpatterns)),
    path("settings/oauth/", oauth_views.oauth_settings, name="oauth_settings"),
    path("oauth/<slug:provider_slug>/start/", oauth_views.oauth_start, name="oauth_start"),
    path("oauth/<slug:provider_slug>/callback/", oauth_views.oauth_callback, name="oauth_callback"),
    path("reconnect/<str:token>/", credential_views.reconnect_link, name="reconnect_link"),
    path("reconnect/<str:token>/start/", credential_views.reconnect_link_start, name="reconnect_link_start"),
]
