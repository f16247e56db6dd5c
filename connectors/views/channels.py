"""Alert channels: add, send test, rotate the signing secret, remove (issue 11). POST only; the Notifications page
shows the channels (``alerts/_channels.html``) and a new signing secret, once, from ``session["shown_secret"]``."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from ..alerts import channels as services
from ..alerts.forms import ChannelForm
from ..alerts.models import Channel, Delivery


def _own_channel(request, pk: int) -> Channel:
    return get_object_or_404(Channel, pk=pk, user=request.user)


def _show_secret_once(request, channel: Channel, secret: str) -> None:
    request.session["shown_secret"] = {"channel": channel.pk, "secret": secret}


@sensitive_post_parameters("slack_url", "webhook_url")
@require_POST
def channel_add(request):
    form = ChannelForm(request.POST)
    if not form.is_valid():
        return render(request, "alerts/channel_form_page.html", {"channel_form": form}, status=422)
    channel, secret = services.channel_add(
        user=request.user, kind=form.cleaned_data["kind"], target=form.cleaned_data["target"]
    )
    if secret:
        _show_secret_once(request, channel, secret)
        messages.success(
            request,
            f"{channel.get_kind_display()} channel {channel.target_hint} added. "
            "Copy its signing secret now: it is shown only once.",
        )
    else:
        messages.success(
            request,
            f"{channel.get_kind_display()} channel {channel.target_hint} added. "
            "Send a test to check that alerts reach it.",
        )
    return redirect("notifications")


@require_POST
def channel_test(request, pk: int):
    channel = _own_channel(request, pk)
    delivery = services.channel_send_test(user=request.user, channel=channel)
    if delivery.state == Delivery.State.SENT:
        messages.success(request, f"Sent a test alert to {channel}.")
    else:
        messages.error(request, f"The test alert to {channel} was not delivered: {delivery.last_error}")
    return redirect("notifications")


@require_POST
def channel_rotate(request, pk: int):
    channel = _own_channel(request, pk)
    if channel.kind != Channel.Kind.WEBHOOK:
        messages.error(request, f"{channel} has no signing secret to rotate.")
        return redirect("notifications")
    secret = services.channel_rotate_secret(user=request.user, channel=channel)
    _show_secret_once(request, channel, secret)
    messages.success(
        request,
        f"New signing secret for {channel}: copy it now, it is shown only once. "
        "Alerts are signed with the previous secret too for the next 24 hours.",
    )
    return redirect("notifications")


@require_POST
def channel_remove(request, pk: int):
    channel = _own_channel(request, pk)
    name = str(channel)
    services.channel_remove(user=request.user, channel=channel)
    messages.success(request, f"Channel {name} removed.")
    return redirect("notifications")


urlpatterns: list = [
    path("notifications/channels/add/", channel_add, name="channel_add"),
    path("notifications/channels/<int:pk>/test/", channel_test, name="channel_test"),
    path("notifications/channels/<int:pk>/rotate/", channel_rotate, name="channel_rotate"),
    path("notifications/channels/<int:pk>/remove/", channel_remove, name="channel_remove"),
]
