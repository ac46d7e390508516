"""Framework integrations, each in its own module and never imported by ``authhooks`` itself.

- :mod:`authhooks.integrations.starlette`: read what :class:`~authhooks.middleware.AuthHooksMiddleware` stored
  on a request (``principal_of(request)``), and turn an :class:`~authhooks.errors.AuthError` into the RFC 6750
  ``WWW-Authenticate`` challenge.
- :mod:`authhooks.integrations.fastapi`: dependencies (``current_principal``, ``CurrentPrincipal``,
  ``optional_principal``, ``require_scopes``) that also declare a Bearer security scheme in the OpenAPI schema.
"""

from __future__ import annotations

__all__: list[str] = []
