"""The team page (/team/, staff only): invite a teammate, set each member's role, deactivate or reactivate a member;
and the invitation link's page, where an invitee chooses their password. Every change goes through connectors.team
(audited); a refusal it explains (TeamError) is shown in place."""

from functools import partial, wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from .. import team


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=150)
    role = forms.ChoiceField(label="Role", choices=team.ROLE_CHOICES, initial=team.ADMIN)
    staff = forms.BooleanField(label="Can manage the team", required=False)
    auditor = forms.BooleanField(label="Auditor (sees every entry of the audit log)", required=False)


class MemberForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=team.ROLE_CHOICES)
    staff = forms.BooleanField(label="Can manage the team", required=False)
    auditor = forms.BooleanField(label="Auditor", required=False)


class InvitationPasswordForm(SetPasswordForm):
    """Django's, with the strength errors under "New password" (where the password was typed)."""

    def clean(self):
        self.validate_passwords("new_password1", "new_password2")
        self.validate_password_for_user(self.user, "new_password1")
        return forms.Form.clean(self)


def staff_only(view):
    """Team management is for staff users; everyone else gets a page that says so (403)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            return render(request, "team/staff_only.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _page(request, *, invite_form=None, status=200):
    context = {
        "members": team.member_list(),
        "invite_form": invite_form or InviteForm(),
        "role_choices": team.ROLE_CHOICES,
        "invitation_days": team.INVITATION_MAX_AGE.days,
    }
    return render(request, "team/team.html", context, status=status)


def _member(pk: int):
    member = team.member_get(pk=pk)
    if member is None:
        raise Http404("No such team member")
    return member


@require_safe
@staff_only
def team_page(request):
    return _page(request)


@require_POST
@staff_only
def team_invite(request):
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _page(request, invite_form=form, status=422)
    data = form.cleaned_data
    try:
        team.team_invite(
            by=request.user,
            email=data["email"],
            role=data["role"],
            staff=data["staff"],
            auditor=data["auditor"],
            # The console's configured address when it has one (the link must not depend on a request's Host).
            site_url=settings.CONSOLE_URL or request.build_absolute_uri("/"),
        )
    except team.TeamError as exc:
        form.add_error("email", exc.message)
        return _page(request, invite_form=form, status=422)
    messages.success(
        request,
        f"Invitation sent to {data['email']}: the link in it works once, for {team.INVITATION_MAX_AGE.days} days.",
    )
    return redirect("team")


def _change_member(request, change, *, done: str):
    """Makes ``change`` (a connectors.team service taking ``by``) and says how it went; a TeamError is shown as is."""
    try:
        change(by=request.user)
    except team.TeamError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("team")


@require_POST
@staff_only
def team_member_update(request, pk: int):
    member = _member(pk)
    form = MemberForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Choose a role for {member.get_username()}.")
        return redirect("team")
    return _change_member(
        request,
        partial(team.team_member_update, member=member, **form.cleaned_data),
        done=f"Saved {member.get_username()}'s access.",
    )


@require_POST
@staff_only
def team_member_deactivate(request, pk: int):
    """Deactivates a member; for one who never accepted their invitation, that is "Revoke invitation"."""
    member = _member(pk)
    if member.has_usable_password():
        done = f"{member.get_username()} is deactivated and signed out everywhere."
    else:
        done = f"The invitation to {member.get_username()} is revoked: its link no longer works."
    return _change_member(request, partial(team.team_member_deactivate, member=member), done=done)


@require_POST
@staff_only
def team_member_reactivate(request, pk: int):
    member = _member(pk)
    return _change_member(
        request,
        partial(team.team_member_reactivate, member=member),
        done=f"{member.get_username()} can sign in again.",
    )


@login_not_required
@sensitive_post_parameters("new_password1", "new_password2")
@require_http_methods(["GET", "HEAD", "POST"])
def team_accept(request):
    # The token travels in the query string, then in the form: never in a path, which the request log records.
    token = request.POST.get("token") or request.GET.get("token", "")
    try:
        invitee = team.invitation_user(token=token)
    except team.InvitationInvalid as exc:
        return render(request, "team/invitation_invalid.html", {"reason": exc.message}, status=404)
    form = InvitationPasswordForm(invitee, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        team.invitation_accept(user=invitee, password=form.cleaned_data["new_password1"])
        login(request, invitee, backend="connectors.auth.ConsoleBackend")
        messages.success(request, "Welcome: your password is set. Store your Aimable API key to see your collections.")
        return redirect("api_keys")
    status = 422 if form.is_bound else 200
    return render(request, "team/accept.html", {"form": form, "invitee": invitee, "token": token}, status=status)


urlpatterns: list = [
    path("team/", team_page, name="team"),
    path("team/invite/", team_invite, name="team_invite"),
    path("team/<int:pk>/update/", team_member_update, name="team_member_update"),
    path("team/<int:pk>/deactivate/", team_member_deactivate, name="team_member_deactivate"),
    path("team/<int:pk>/reactivate/", team_member_reactivate, name="team_member_reactivate"),
    path("team/invitation/", team_accept, name="team_accept"),
]
