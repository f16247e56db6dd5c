"""Shared "Reconnect" links (connectors.credentials): create one from a connector's page, open it, use it.

POST …/connectors/<id>/reconnect-link/  creates a link (audited) and shows it once
GET  /reconnect/<token>/                 the link's page: checks it, and that the opener's own key reads the
                                         connector; warns whose account the provider will authorize; "Reconnect"
POST /reconnect/<token>/start/           spends the link (audited) and starts the OAuth Reconnect flow, which comes
                                         back to the connector's page (connectors.views.oauth)
"""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from .. import credentials, oauth, selectors
from ..upstream import client_for
from .base import ConnectorPage, connector_view, render_page

TEMPLATE = "connectors/reconnect_link.html"


@require_POST
@connector_view
def reconnect_link_create(request, page: ConnectorPage):
    context = page.context()
    link, token = credentials.reconnect_link_create(
        user=request.user, **page.collection_ids, connector=context["connector"], connector_id=page.connector_id
    )
    context.update({"link": link, "link_url": request.build_absolute_uri(reverse("reconnect_link", args=[token]))})
    return render_page(request, TEMPLATE, context, partial="created")


def _link_or_page(request, token):
    """(link, None), or (None, the page saying why it cannot be used)."""
    try:
        return credentials.reconnect_link_get(token=token), None
    except credentials.LinkError as exc:
        return None, render(request, TEMPLATE, {"link_error": exc.message}, status=exc.status)


def _target(request, link):
    """The connector, read with the opener's own key (no access: the page error says so), and its OAuth client."""
    ids = {"space_id": str(link.space_id), "collection_id": str(link.collection_id)}
    connector = selectors.connector_get(client=client_for(request.user), **ids, connector_id=link.connector_id)
    return ids, connector, oauth.config_for(connector.provider_slug)


@require_safe
def reconnect_link(request, token: str):
    link, refused = _link_or_page(request, token)
    if refused:
        return refused
    ids, connector, config = _target(request, link)
    context = {
        **ids,
        "connector_id": link.connector_id,
        "connector": connector,
        "provider": selectors.provider_of(connector),
        "link": link,
        "token": token,
        "configured": config is not None,
    }
    return render(request, TEMPLATE, context)


@require_POST
def reconnect_link_start(request, token: str):
    link, refused = _link_or_page(request, token)
    if refused:
        return refused
    ids, connector, config = _target(request, link)
    if config is None:  # nothing to start: the link stays unspent
        messages.error(request, "Reconnecting is not set up on this console for this provider (no OAuth client id).")
        return redirect("reconnect_link", token)
    try:
        credentials.reconnect_link_use(user=request.user, link=link)
    except credentials.LinkError as exc:  # someone pressed first, or it expired meanwhile
        return render(request, TEMPLATE, {"link_error": exc.message}, status=exc.status)
    purpose = {"kind": "reconnect", **ids, "connector_id": link.connector_id}
    return HttpResponseRedirect(oauth.begin(request, config, purpose))
