"""The app the WSGI end-to-end tests serve with gunicorn and waitress: ``examples/flask_app.py`` (configured
from ``AUTHHOOKS_*``), with every response, the middleware's refusals included, naming the worker process
(``X-Worker``), so a test knows which worker answered.

Run: ``gunicorn -w 2 -k sync 'tests.e2e.wsgi_instance_app:create_app()'``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from examples.flask_app import create_app as create_flask_app


def create_app() -> Callable[..., Iterable[bytes]]:
    """The Flask example behind a wrapper adding ``X-Worker: <pid>`` to every response."""
    inner = create_flask_app()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def tagged(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("X-Worker", str(os.getpid()))], exc_info)

        return inner(environ, tagged)

    return app
