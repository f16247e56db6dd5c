from django.urls import path

from .views import audit, browse, connectors, home, keys

collection = "spaces/<uuid:space_id>/collections/<uuid:collection_id>/connectors/"
connector = collection + "<str:connector_id>/"

urlpatterns = [
    path("", home.home, name="home"),
    path("settings/api-keys/", keys.api_keys, name="api_keys"),
    path("settings/api-keys/delete/", keys.api_key_delete, name="api_key_delete"),
    path("audit/", audit.audit_log, name="audit_log"),
    path(collection, connectors.connector_list, name="connector_list"),
    path(collection + "new/", connectors.connector_create, name="connector_create"),
    path(connector, connectors.connector_detail, name="connector_detail"),
    path(connector + "edit/", connectors.connector_edit, name="connector_edit"),
    path(connector + "delete/", connectors.connector_delete, name="connector_delete"),
    path(connector + "browse/", browse.connector_browse, name="connector_browse"),
]
