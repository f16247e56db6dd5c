from django.urls import include, path

from .views import audit, browse, bulk, channels, connectors, home, keys, notifications, overview, syncs, team
from .views import credentials as credential_views
from .views import oauth as oauth_views
from .views import preferences as preference_views

collection = "spaces/<uuid:space_id>/collections/<uuid:collection_id>/"
connector = collection + "connectors/<str:connector_id>/"

# One URL, one job. No fixed word sits where an id can: a connector whose id is "new", or a sync whose id is
# "latest", keeps its own page.
urlpatterns = [
    path("", home.home, name="home"),
    path("settings/api-keys/", keys.api_keys, name="api_keys"),
    path("settings/api-keys/delete/", keys.api_key_delete, name="api_key_delete"),
    path("audit/", audit.audit_log, name="audit_log"),
    path("audit/csv/", audit.audit_csv, name="audit_csv"),
    path("", include(notifications.urlpatterns)),
    path("", include(channels.urlpatterns)),
    path("", include(overview.urlpatterns)),
    path("", include(bulk.urlpatterns)),
    path("", include(team.urlpatterns)),
    path("", include(preference_views.urlpatterns)),
    path("settings/oauth/", oauth_views.oauth_settings, name="oauth_settings"),
    path("oauth/<slug:provider_slug>/start/", oauth_views.oauth_start, name="oauth_start"),
    path("oauth/<slug:provider_slug>/callback/", oauth_views.oauth_callback, name="oauth_callback"),
    path(collection + "connectors/", connectors.connector_list, name="connector_list"),
    path(collection + "new-connector/", connectors.connector_create, name="connector_create"),
    path(connector, connectors.connector_detail, name="connector_detail"),
    path(connector + "edit/", connectors.connector_edit, name="connector_edit"),
    path(connector + "delete/", connectors.connector_delete, name="connector_delete"),
    path(connector + "resume/", connectors.connector_resume, name="connector_resume"),
    path(connector + "reconnect-link/", credential_views.reconnect_link_create, name="reconnect_link_create"),
    path("reconnect/<str:token>/", credential_views.reconnect_link, name="reconnect_link"),
    path("reconnect/<str:token>/start/", credential_views.reconnect_link_start, name="reconnect_link_start"),
    path(connector + "browse/", browse.connector_browse, name="connector_browse"),
    path(connector + "sync/", syncs.sync_trigger, name="sync_trigger"),
    path(connector + "sync/cancel/", syncs.sync_cancel, name="sync_cancel"),
    path(connector + "sync/latest/", syncs.sync_latest, name="sync_latest"),
    path(collection + "latest-syncs/", syncs.sync_latest_batch, name="sync_latest_batch"),
    path(connector + "sync/chart/", connectors.sync_chart, name="sync_chart"),
    path(connector + "syncs/", syncs.sync_list, name="sync_list"),
    path(connector + "syncs.csv", syncs.sync_list_csv, name="sync_list_csv"),
    path(connector + "syncs/<str:sync_id>/", syncs.sync_detail, name="sync_detail"),
    path(connector + "syncs/<str:sync_id>/retry/", syncs.sync_retry, name="sync_retry"),
]
