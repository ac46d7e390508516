"""``/public``, ``/me`` (``request.principal`` and ``request.user``) and ``/admin`` (``@require_scopes``)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from authhooks.integrations.django import require_scopes


def public(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"message": "anyone can read this", "user": request.user.get_username() or None})


def me(request: HttpRequest) -> JsonResponse:
    principal = request.principal  # type: ignore[attr-defined]  # the middleware protects /me: always set here
    return JsonResponse(
        {
            "subject": principal.subject,
            "scopes": sorted(principal.scopes),
            "jti": principal.jti,
            "user": request.user.get_username(),  # the Django user RemoteUserBackend made for the subject
        }
    )


@require_scopes("admin")
def admin(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"message": "welcome, admin"})


urlpatterns = [path("public", public), path("me", me), path("admin", admin)]
