"""The Notifications page, watches, the bell, a connector's expected freshness and schedule (issue 11)."""

from __future__ import annotations

from email import message_from_string
from email import policy as email_policy
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST, require_safe

from ..alerts import selectors, services
from ..alerts.channels import channel_context
from ..alerts.page_forms import FreshnessForm, ScheduleForm, WatchForm, WatchTargetForm, panel_forms
from .base import ConnectorPage, connector_view, render_page
from .syncs import local_next

OUTBOX_FILES = 50
OUTBOX_MAX_BYTES = 256 * 1024


def _own_watch(request, pk: int):
    watch = selectors.user_watch(request.user, pk)
    if watch is None:
        raise Http404("No such watch.")
    return watch


def _back(request):
    """Where a watch form returns to: the page it came from, else the Notifications page."""
    return redirect(local_next(request, reverse("notifications")))


def _watch_name(watch) -> str:
    return watch.label or watch.get_scope_display().lower()


@require_safe
def notifications(request):
    data = selectors.notifications_page(request.user)
    channels = channel_context(request.user)
    channels["channels"] = list(channels["channels"])  # read once: the channel list and every watch's checkboxes
    context = {
        "watches": [(w, WatchForm(user=request.user, watch=w)) for w in data.watches],
        "alerts": data.alerts,
        "more_alerts": data.more,
        # A webhook's signing secret, just issued: shown on this one page view, never again.
        "shown_secret": request.session.pop("shown_secret", None),
        **channels,
    }
    if data.unread_ids:  # read once shown: the bell says 0, and this page still marks them "New" (read before)
        services.alerts_mark_read(user=request.user, ids=data.unread_ids)
    return render_page(request, "alerts/notifications.html", context)


@require_POST
def notifications_read(request):
    services.alerts_mark_read(user=request.user)
    return _back(request)


@require_POST
def watch_add(request):
    form = WatchTargetForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That cannot be watched.")
        return _back(request)
    watch = services.watch_add(user=request.user, **form.cleaned_data)
    messages.success(request, f"Watching {_watch_name(watch)}.")
    return _back(request)


def _apply_to_watch(request, pk: int, service, done: str):
    """Applies one service to one of the user's watches and says so ("Stopped watching <it>.")."""
    watch = _own_watch(request, pk)
    service(user=request.user, watch=watch)
    messages.success(request, f"{done} {_watch_name(watch)}.")
    return _back(request)


@require_POST
def watch_remove(request, pk: int):
    return _apply_to_watch(request, pk, services.watch_remove, "Stopped watching")


@require_POST
def watch_resume(request, pk: int):
    return _apply_to_watch(request, pk, services.watch_resume, "Resumed watching")


@require_POST
def watch_update(request, pk: int):
    watch = _own_watch(request, pk)
    form = WatchForm(request.POST, user=request.user, watch=watch)
    if not form.is_valid():
        errors = "; ".join(f"{form.fields[name].label}: {' '.join(e)}" for name, e in form.errors.items())
        messages.error(request, f"The watch was not changed. {errors}")
    else:
        services.watch_update(user=request.user, watch=watch, **form.cleaned_data)
        messages.success(request, "Watch saved.")
    return _back(request)


def _render_settings(request, page: ConnectorPage, *, freshness_form=None, schedule_form=None):
    """The connector's alert settings alone, with the form that failed as typed (the connector page's other parts
    are not read again)."""
    context = page.context()
    panel = selectors.connector_panel(connector_id=page.connector_id)
    forms = panel_forms(panel)
    forms.update({k: v for k, v in (("freshness_form", freshness_form), ("schedule_form", schedule_form)) if v})
    context.update({**panel, **forms, "here": "Alerts and schedule"})
    return render_page(request, "alerts/connector_settings.html", context, status=422)


@require_POST
@connector_view
def connector_freshness(request, page: ConnectorPage):
    form = FreshnessForm(request.POST)
    if not form.is_valid():
        return _render_settings(request, page, freshness_form=form)
    services.freshness_set(user=request.user, **page.ids, hours=form.cleaned_data["hours"])
    messages.success(request, f"Expected freshness set to {form.cleaned_data['hours']} hours.")
    return redirect("connector_detail", *page.path_args)


@require_POST
@connector_view
def connector_schedule(request, page: ConnectorPage):
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        return _render_settings(request, page, schedule_form=form)
    if form.clears:
        services.schedule_clear(user=request.user, connector_id=page.connector_id)
        messages.success(request, "Schedule removed.")
    else:
        data = form.cleaned_data
        schedule = services.schedule_set(
            user=request.user,
            **page.ids,
            provider_slug=request.POST.get("provider_slug", "")[:64],
            kind=data["kind"],
            every_hours=data["every_hours"],
            daily_at=data["daily_at"],
            tz=data["timezone"] or "UTC",
        )
        messages.success(request, f"{schedule.describe()}.")
    return redirect("connector_detail", *page.path_args)


def _outbox_files() -> list[Path]:
    """The newest files the file backend wrote (names from the directory listing only)."""
    folder = Path(settings.EMAIL_FILE_PATH)
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()]
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)[:OUTBOX_FILES]


# Django's file backend writes each message followed by a line of 79 dashes; one file holds one connection's mails.
_SEPARATOR = "\n" + "-" * 79 + "\n"


def _mails(path: Path) -> list[dict]:
    """The mails in one outbox file, as people read them: subject, sender, recipient, date and the plain text."""
    with path.open("rb") as handle:
        raw = handle.read(OUTBOX_MAX_BYTES).decode("utf-8", errors="replace")
    mails = []
    for chunk in filter(str.strip, raw.split(_SEPARATOR)):
        message = message_from_string(chunk, policy=email_policy.default)
        body = message.get_body(preferencelist=("plain",))
        mails.append(
            {
                "subject": str(message.get("Subject", "")),
                "sender": str(message.get("From", "")),
                "to": str(message.get("To", "")),
                "date": str(message.get("Date", "")),
                "text": body.get_content() if body is not None else "",
            }
        )
    return mails


@require_safe
def notifications_outbox(request):
    """DEBUG only: the local outbox (EMAIL_FILE_PATH), so email alerts can be read without a mail server."""
    if not settings.DEBUG:
        raise Http404("The outbox exists only in development.")
    files = _outbox_files()
    chosen = request.GET.get("file", "") or (files[0].name if files else "")
    by_name = {p.name: p for p in files}  # only a listed name is opened: no path from the request is ever joined
    if chosen and chosen not in by_name:
        raise Http404("No such mail in the outbox.")
    listing = []
    for file in files:
        first = _mails(file)[:1]
        listing.append({"name": file.name, "subject": first[0]["subject"] if first else file.name})
    context = {
        "files": listing,
        "chosen": chosen,
        "mails": _mails(by_name[chosen]) if chosen else [],
        "folder": settings.EMAIL_FILE_PATH,
    }
    return render_page(request, "alerts/outbox.html", context)


# The same prefix as connectors/urls.py (which includes these patterns, so it cannot be imported from there).
connector = "spaces/<uuid:space_id>/collections/<uuid:collection_id>/connectors/<str:connector_id>/"

urlpatterns: list = [
    path("notifications/", notifications, name="notifications"),
    path("notifications/read/", notifications_read, name="notifications_read"),
    path("notifications/outbox/", notifications_outbox, name="notifications_outbox"),
    path("watch/", watch_add, name="watch_add"),
    path("watch/<int:pk>/remove/", watch_remove, name="watch_remove"),
    path("watch/<int:pk>/resume/", watch_resume, name="watch_resume"),
    path("watch/<int:pk>/update/", watch_update, name="watch_update"),
    path(connector + "freshness/", connector_freshness, name="connector_freshness"),
    path(connector + "schedule/", connector_schedule, name="connector_schedule"),
]
