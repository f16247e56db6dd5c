from django.conf import settings

from .permissions import is_read_only


def console(request):
    return {
        "aimable_api_url": settings.AIMABLE_API_URL,
        "debug": settings.DEBUG,
        # Read-only team members see no button that changes anything (the middleware refuses the change anyway).
        "read_only": is_read_only(getattr(request, "user", None)),
    }
