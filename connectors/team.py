"""The team: who uses the console, in which role, and how newcomers join (an emailed, signed, expiring link).

Selectors read, services write and audit every change (HackSoft's `<thing>_<action>(*, ...)`). The roles are the
groups of connectors.permissions: Admin (neither group), Operator, Read-only; staff users manage the team (/team/).
"""

from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import urlencode

from .audit import audited
from .models import AuditEvent
from .permissions import AUDITORS_GROUP, OPERATOR_GROUP, READ_ONLY_GROUP, forget_role, role_among, role_of

ADMIN, OPERATOR, READ_ONLY = "admin", "operator", "read-only"
ROLE_CHOICES = [
    (ADMIN, "Admin"),
    (OPERATOR, "Operator"),
    (READ_ONLY, "Read-only"),
]
ROLE_LABELS = dict(ROLE_CHOICES)
_ROLE_GROUPS = {OPERATOR: OPERATOR_GROUP, READ_ONLY: READ_ONLY_GROUP}
_GROUP_ROLES = {group: role for role, group in _ROLE_GROUPS.items()}

INVITATION_MAX_AGE = timedelta(days=3)
_INVITATION_SALT = "connectors.team.invitation"


class _Explained(Exception):
    """A refusal with the sentence the page shows."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TeamError(_Explained):
    """A change the team page refuses, shown in place (e.g. the last staff user leaving)."""


class InvitationInvalid(_Explained):
    """An invitation link that cannot be used: expired, used, or not a link."""


@dataclass(frozen=True)
class Member:
    user: object
    role: str  # ADMIN, OPERATOR or READ_ONLY
    auditor: bool

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def state(self) -> str:
        if not self.user.is_active:
            return "Deactivated"
        return "Active" if self.user.has_usable_password() else "Invited"


# Selectors


def member_role(*, user) -> str:
    return _GROUP_ROLES.get(role_of(user), ADMIN)


def member_list() -> list[Member]:
    """Every user, active first, then by user name; their groups read in one query."""
    users = get_user_model().objects.prefetch_related("groups").order_by("-is_active", "username")
    members = []
    for user in users:
        names = {group.name for group in user.groups.all()}
        role = _GROUP_ROLES.get(role_among(names), ADMIN)
        members.append(Member(user=user, role=role, auditor=AUDITORS_GROUP in names))
    return members


def member_get(*, pk: int):
    """The user, or None."""
    return get_user_model().objects.filter(pk=pk).first()


def staff_count_without(*, user) -> int:
    """Active staff users other than ``user``."""
    return get_user_model().objects.filter(is_active=True, is_staff=True).exclude(pk=user.pk).count()


def invitation_user(*, token: str):
    """The invited user a link's token is for; InvitationInvalid says why not (expired, used, or not a link)."""
    try:
        data = signing.loads(token, salt=_INVITATION_SALT, max_age=INVITATION_MAX_AGE)
    except signing.SignatureExpired:
        raise InvitationInvalid("This invitation has expired: ask a team admin to invite you again.") from None
    except signing.BadSignature:
        raise InvitationInvalid("This is not a valid invitation link.") from None
    user = get_user_model().objects.filter(pk=data.get("user") if isinstance(data, dict) else None).first()
    if user is None or not user.is_active or not constant_time_compare(str(data.get("check")), _fingerprint(user)):
        raise InvitationInvalid(
            "This invitation has already been used (or withdrawn). Sign in, or ask a team admin for a new one."
        )
    return user


def _fingerprint(user) -> str:
    """Changes when the invitee sets a password or signs in, and when they are deactivated: a link works once."""
    state = f"{user.pk}:{user.password}:{user.last_login}:{user.is_active}"
    return salted_hmac(_INVITATION_SALT, state).hexdigest()[:32]


def invitation_token(*, user) -> str:
    return signing.dumps({"user": user.pk, "check": _fingerprint(user)}, salt=_INVITATION_SALT)


# Services


def team_invite(*, by, email: str, role: str, staff: bool, auditor: bool, site_url: str):
    """Adds a team member with no password yet and emails them a link to set one (INVITATION_MAX_AGE). A member who
    has not used their invitation yet gets a new link (their role stays). Returns the user."""
    User = get_user_model()
    email = User.objects.normalize_email(email).strip()
    existing = User.objects.filter(email__iexact=email).first() or User.objects.filter(username__iexact=email).first()
    if existing is not None and (existing.has_usable_password() or not existing.is_active):
        raise TeamError(f"{email} is already on the team.")
    with (
        audited(user=by, action=AuditEvent.Action.TEAM_INVITE, changes={"member": email}) as event,
        transaction.atomic(),
    ):
        if existing is None:
            user = User(username=email[: User._meta.get_field("username").max_length], email=email, is_staff=staff)
            user.set_unusable_password()
            user.save()
            _set_groups(user, role=role, auditor=auditor)
            event.changes.update(_describe(role=role, staff=staff, auditor=auditor))
        else:
            user = existing
            event.changes["invitation"] = "sent again"
        query = urlencode({"token": invitation_token(user=user)})
        link = f"{site_url.rstrip('/')}{reverse('team_accept')}?{query}"
        _send_invitation(by=by, user=user, email=email, link=link)
    return user


def _send_invitation(*, by, user, email: str, link: str) -> None:
    try:
        send_mail(
            "You are invited to the Aimable Connectors Console",
            f"{by.get_username()} invited you to the Aimable Connectors Console as "
            f"{ROLE_LABELS[member_role(user=user)]}.\n\n"
            f"Choose your password here within {INVITATION_MAX_AGE.days} days (the link works once):\n{link}\n\n"
            f"Then sign in as {user.get_username()} and store your own Aimable API key on the API key page: every "
            "request the console makes for you is made with your own key.\n",
            None,
            [email],
        )
    except OSError as exc:  # smtplib's errors too: a new member is not kept (the transaction)
        raise TeamError(f"The invitation to {email} could not be sent ({exc}): try again.") from None


def team_member_update(*, by, member, role: str, staff: bool, auditor: bool) -> None:
    """Sets a member's role, whether they manage the team (staff), and whether they see the whole audit log."""
    _check_may_change(by=by, member=member)
    if member.pk == by.pk and (not staff or role != ADMIN) and staff_count_without(user=by) == 0:
        raise TeamError("You are the last staff user: you cannot give up managing the team or the Admin role.")
    before = _describe(role=member_role(user=member), staff=member.is_staff, auditor=_is_auditor(member))
    after = _describe(role=role, staff=staff, auditor=auditor)
    changes = {key: {"from": before[key], "to": after[key]} for key in after if before[key] != after[key]}
    if not changes:
        return
    changes = {"member": member.get_username(), **changes}
    with audited(user=by, action=AuditEvent.Action.TEAM_ROLE, changes=changes), transaction.atomic():
        member.is_staff = staff
        member.save(update_fields=["is_staff"])
        _set_groups(member, role=role, auditor=auditor)


def team_member_deactivate(*, by, member) -> int:
    """The member can no longer sign in, and every session of theirs ends now. Returns how many ended."""
    _check_may_change(by=by, member=member)
    if member.pk == by.pk and staff_count_without(user=by) == 0:
        raise TeamError("You are the last staff user: you cannot deactivate yourself.")
    with audited(user=by, action=AuditEvent.Action.TEAM_DEACTIVATE, changes={"member": member.get_username()}) as event:
        member.is_active = False  # Django's backends refuse an inactive user on each request, whatever the session
        member.save(update_fields=["is_active"])
        ended = sessions_end(user=member)
        event.changes["sessions ended"] = ended
    return ended


def team_member_reactivate(*, by, member) -> None:
    _check_may_change(by=by, member=member)
    with audited(user=by, action=AuditEvent.Action.TEAM_REACTIVATE, changes={"member": member.get_username()}):
        member.is_active = True
        member.save(update_fields=["is_active"])


def invitation_accept(*, user, password: str) -> None:
    """The invitee's own password (validated by the form); the link stops working (the fingerprint changed)."""
    user.set_password(password)
    user.save(update_fields=["password"])


def sessions_end(*, user) -> int:
    """Deletes every stored session of ``user`` through the session engine's own store, so that a cached_db
    session leaves the cache too. Reads each unexpired session once: fine for a team console's few sessions."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get(SESSION_KEY) == str(user.pk):
            store(session_key=session.session_key).delete()
            ended += 1
    return ended


def _check_may_change(*, by, member) -> None:
    if member.is_superuser and not by.is_superuser:
        raise TeamError(f"{member.get_username()} is a superuser: only a superuser can change their access.")


def _is_auditor(user) -> bool:
    return user.groups.filter(name=AUDITORS_GROUP).exists()


def _describe(*, role: str, staff: bool, auditor: bool) -> dict:
    return {"role": ROLE_LABELS[role], "manages the team": staff, "auditor": auditor}


def _set_groups(user, *, role: str, auditor: bool) -> None:
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in (*_ROLE_GROUPS.values(), AUDITORS_GROUP)}
    user.groups.remove(*groups.values())
    wanted = [groups[_ROLE_GROUPS[role]]] if role in _ROLE_GROUPS else []
    if auditor:
        wanted.append(groups[AUDITORS_GROUP])
    user.groups.add(*wanted)
    forget_role(user)
