from django.conf import settings


def console(request):
    return {"aimable_api_url": settings.AIMABLE_API_URL, "debug": settings.DEBUG}
