"""{% oauth_connect form %} on the create form and {% oauth_reconnect connector %} on a connector's page."""

from django import template
from django.urls import reverse

from .. import oauth

register = template.Library()


@register.inclusion_tag("includes/oauth_connect.html", takes_context=True)
def oauth_connect(context, form):
    """The "Connect <provider>" button (inside the create form), or the "Connected" state; nothing when the
    provider has no OAuth client configured."""
    provider = form.scope_provider
    request = context.get("request")
    config = oauth.config_for(provider.slug) if provider else None
    connected = form.oauth_connected if isinstance(getattr(form, "oauth_connected", None), dict) else None
    return {
        "provider": provider,
        "configured": config is not None,
        "connected": connected if connected and connected.get("provider") == provider.slug else None,
        "start_url": reverse("oauth_start", args=[provider.slug]) if config else "",
        "next": request.path if request else "",
    }


@register.inclusion_tag("includes/oauth_reconnect.html", takes_context=True)
def oauth_reconnect(context, connector, prominent=False):
    """A "Reconnect" button (its own small POST form) for a connector whose provider has an OAuth client."""
    request = context.get("request")
    slug = getattr(connector, "provider_slug", "")
    config = oauth.config_for(slug) if slug else None
    return {
        "configured": config is not None,
        "provider": config.provider if config else None,
        "start_url": reverse("oauth_start", args=[slug]) if config else "",
        "next": request.path if request else "",
        "prominent": prominent,
        "csrf_token": context.get("csrf_token"),
    }
