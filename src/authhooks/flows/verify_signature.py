"""The ``verify_signature`` flow (sans-IO), in its two forms: a signed message checked by a scheme's verifier
(the challenge-response login, Evrmore's pre/post_verify) and a JWS checked by the token validator (Joken's
before/after_verify, wrapped around every first-seen access token)."""

from __future__ import annotations

from typing import Any

from authhooks.errors import HookError, InvalidToken
from authhooks.events import Flow, Outcome
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import FlowGen, Note, RunHooks, flow
from authhooks.hooks.points import CATALOGUE
from authhooks.records import Principal
from authhooks.tokens.keys import Key
from authhooks.tokens.keyset import KeySet

__all__ = ["verify_jws", "verify_signature"]

_PRE, _POST = CATALOGUE["verify_signature.pre"], CATALOGUE["verify_signature.post"]


@flow(Flow.VERIFY_SIGNATURE)
def verify_signature(deps: FlowDeps, subject: str, message: str | bytes, signature: str, scheme: str) -> FlowGen[bool]:
    """``verify_signature.pre`` (may change any input, or deny), the scheme's verifier, then
    ``verify_signature.post`` with ``valid``. Returns whether the signature is valid.

    Raises:
        InvalidRequest: (``unsupported_scheme``) no verifier for the scheme.
        Deny: a ``verify_signature.pre`` hook denied.
    """
    values: dict[str, Any] = {"subject": subject, "message": message, "signature": signature, "scheme": scheme}
    yield RunHooks(_PRE, values)
    verifier = deps.verifiers.get(values["scheme"])
    msg = values["message"]
    data = msg.encode("utf-8") if isinstance(msg, str) else bytes(msg)
    sig = values["signature"]
    valid = isinstance(sig, str) and bool(verifier.verify(values["subject"], data, sig))
    post = {"subject": values["subject"], "message": msg, "scheme": values["scheme"], "valid": valid}
    yield RunHooks(_POST, post)
    if not valid:
        yield Note(outcome=Outcome.FAILURE, reason="bad_signature")
    return valid


def _validate(deps: FlowDeps, token: str, keys: KeySet) -> tuple[Principal, Key]:
    """The shortcut: the validator alone, with no generator step."""
    return deps.tokens.validator.validate_keyed(token, keys=keys)


@flow(Flow.VERIFY_SIGNATURE, shortcut=_validate)
def verify_jws(deps: FlowDeps, token: str, keys: KeySet) -> FlowGen[tuple[Principal, Key]]:
    """The ``verify_signature`` flow over a JWS: signature and claims by the validator, with ``keys``; when the
    flow has no hook the driver folds it into its parent and takes the shortcut (the validator alone).

    Returns:
        The principal and the key that verified the token (the validated-token cache files the entry under it).

    Raises:
        InvalidToken: a subclass naming the reason.
    """
    message, _, signature = token.rpartition(".")
    values: dict[str, Any] = {"subject": None, "message": message, "signature": signature, "scheme": "jws"}
    yield RunHooks(_PRE, values)
    if values["scheme"] != "jws" or not isinstance(values["message"], str) or not isinstance(values["signature"], str):
        raise HookError("verify_signature.pre: a JWS keeps scheme 'jws' and string message/signature")
    token = f"{values['message']}.{values['signature']}"
    try:
        principal, key = deps.tokens.validator.validate_keyed(token, keys=keys)
    except InvalidToken:
        yield RunHooks(_POST, {"subject": None, "message": values["message"], "scheme": "jws", "valid": False})
        raise
    yield Note(subject=principal.subject)
    yield RunHooks(_POST, {"subject": principal.subject, "message": values["message"], "scheme": "jws", "valid": True})
    return principal, key
