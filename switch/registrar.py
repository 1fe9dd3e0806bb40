"""Registrar (RFC 3261 §10.3), sans-I/O: bindings of extensions to contact addresses.

`Registrar.register()` takes an authenticated REGISTER and the wall-clock time and
returns a `RegisterOutcome`: the response to send and the binding changes that must be
made durable *before* that response leaves (the runtime group-commits them).
Authentication is done by the caller (the SIP application core), so this module knows
nothing of digests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import formatdate

from switch.sip.errors import SipParseError
from switch.sip.flow import Flow
from switch.sip.headers import NameAddr
from switch.sip.message import Request, Response


@dataclass(slots=True, kw_only=True)  # not frozen: built per REGISTER, cheaper unfrozen
class Binding:
    """One contact of one extension."""

    extension: str
    contact: str  # the Contact URI as sent (without header parameters)
    instance: str | None  # RFC 5626 +sip.instance, the device identity when present
    expires_at: float  # wall-clock epoch seconds
    call_id: str
    cseq: int
    q: float | None
    transport: str
    source_host: str  # where the REGISTER really came from (NAT-aware delivery)
    source_port: int
    local_host: str
    local_port: int
    user_agent: str
    updated_at: float

    @property
    def key(self) -> str:
        return self.instance or self.contact

    def expires_in(self, now: float) -> int:
        return max(0, int(self.expires_at - now + 0.5))


@dataclass(frozen=True, slots=True)
class BindingChange:
    """Upsert (binding set) or delete (binding None) of (extension, key)."""

    extension: str
    key: str
    binding: Binding | None


@dataclass(slots=True)
class RegisterOutcome:
    response: Response
    changes: list[BindingChange] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrarPolicy:
    min_expires: int = 60
    max_expires: int = 7200
    default_expires: int = 3600
    max_contacts_per_user: int = 10


class Registrar:
    def __init__(self, policy: RegistrarPolicy, *, server_header: str = "") -> None:
        self.policy = policy
        self.server_header = server_header
        self._bindings: dict[str, dict[str, Binding]] = {}
        self._date_second = -1
        self._date_text = ""

    # -- state ----------------------------------------------------------------------
    def load(self, bindings: list[Binding], now: float) -> None:
        """Restore persisted bindings at start (expired ones are skipped)."""
        for binding in bindings:
            if binding.expires_at > now:
                self._bindings.setdefault(binding.extension, {})[binding.key] = binding

    def reload(self, bindings: list[Binding], now: float) -> None:
        """Replace the in-memory state with what is durable (after a failed write)."""
        self._bindings = {}
        self.load(bindings, now)

    def lookup(self, extension: str, now: float) -> list[Binding]:
        """Live contacts of an extension, highest q first, then most recent."""
        live = [b for b in self._bindings.get(extension, {}).values() if b.expires_at > now]
        live.sort(key=lambda b: (-(b.q if b.q is not None else 1.0), -b.updated_at))
        return live

    def all_bindings(self) -> list[Binding]:
        return [b for bindings in self._bindings.values() for b in bindings.values()]

    def expire(self, now: float) -> list[BindingChange]:
        """Remove expired bindings; returns the deletions to persist."""
        changes = []
        for extension, bindings in list(self._bindings.items()):
            for key, binding in list(bindings.items()):
                if binding.expires_at <= now:
                    del bindings[key]
                    changes.append(BindingChange(extension, key, None))
            if not bindings:
                del self._bindings[extension]
        return changes

    def remove_all(self, extension: str) -> list[BindingChange]:
        bindings = self._bindings.pop(extension, {})
        return [BindingChange(extension, key, None) for key in bindings]

    # -- REGISTER -------------------------------------------------------------------
    def register(
        self, request: Request, extension: str, flow: Flow, now: float, to_tag: str
    ) -> RegisterOutcome:
        """Apply an authenticated REGISTER for `extension` (§10.3 steps 6–8)."""
        policy = self.policy
        contacts = request.contacts()
        header_expires = request.expires()
        current = self._bindings.get(extension, {})
        changes: list[BindingChange] = []

        if contacts is None:  # Contact: *
            if header_expires != 0:
                raise SipParseError("Contact '*' requires Expires: 0")
            for key, binding in list(current.items()):
                if binding.call_id == request.call_id and request.cseq.number <= binding.cseq:
                    continue  # an older retransmission must not undo newer state
                changes.append(BindingChange(extension, key, None))
            return self._commit(request, extension, changes, now, to_tag)

        # Validate every contact before touching any binding (the request is atomic).
        planned: list[tuple[NameAddr, int]] = []
        for contact in contacts:
            expires = _contact_expires(contact, header_expires, policy.default_expires)
            if 0 < expires < policy.min_expires:
                response = self._response(request, 423, to_tag)
                response.headers.append(("Min-Expires", str(policy.min_expires)))
                return RegisterOutcome(response)
            planned.append((contact, min(expires, policy.max_expires)))

        user_agent = request.get("User-Agent") or ""
        source_host, source_port = flow.remote
        for contact, expires in planned:
            uri = contact.sip_uri  # registrations must name a SIP URI we can call
            instance = contact.params.get("+sip.instance")
            key = instance or str(uri)
            existing = current.get(key)
            if existing is not None and existing.call_id == request.call_id:
                if request.cseq.number <= existing.cseq:
                    raise SipParseError("CSeq out of order for this registration")
            if expires == 0:
                if existing is not None:
                    changes.append(BindingChange(extension, key, None))
                continue
            q_text = contact.params.get("q")
            binding = Binding(
                extension=extension,
                contact=str(uri),
                instance=instance,
                expires_at=now + expires,
                call_id=request.call_id,
                cseq=request.cseq.number,
                q=_parse_q(q_text),
                transport=flow.transport,
                source_host=source_host,
                source_port=source_port,
                local_host=flow.local[0],
                local_port=flow.local[1],
                user_agent=user_agent,
                updated_at=now,
            )
            changes.append(BindingChange(extension, key, binding))

        changes += self._evict_over_limit(extension, current, changes, now)
        return self._commit(request, extension, changes, now, to_tag)

    def _evict_over_limit(
        self, extension: str, current: dict[str, Binding], changes: list[BindingChange],
        now: float,
    ) -> list[BindingChange]:
        """Drop the least recently refreshed contacts beyond the per-user limit."""
        if len(current) + len(changes) <= self.policy.max_contacts_per_user:
            return []  # the common case: cannot be over the limit
        after = {k: b for k, b in current.items() if b.expires_at > now}
        for change in changes:
            if change.binding is None:
                after.pop(change.key, None)
            else:
                after[change.key] = change.binding
        excess = len(after) - self.policy.max_contacts_per_user
        if excess <= 0:
            return []
        oldest = sorted(after.values(), key=lambda b: b.updated_at)[:excess]
        return [BindingChange(extension, b.key, None) for b in oldest]

    def _commit(
        self, request: Request, extension: str, changes: list[BindingChange], now: float,
        to_tag: str,
    ) -> RegisterOutcome:
        bindings = self._bindings.setdefault(extension, {})
        for change in changes:
            if change.binding is None:
                bindings.pop(change.key, None)
            else:
                bindings[change.key] = change.binding
        if not bindings:
            del self._bindings[extension]
        response = self._response(request, 200, to_tag)
        for binding in self.lookup(extension, now):
            value = f"<{binding.contact}>;expires={binding.expires_in(now)}"
            if binding.instance is not None:  # echoed for RFC 5626 clients
                value += f";+sip.instance={binding.instance}"
            response.headers.append(("Contact", value))
        response.headers.append(("Date", self._date(now)))
        return RegisterOutcome(response, changes)

    def _date(self, now: float) -> str:
        """RFC 1123 date for the 200 (§10.3 step 8), formatted once per second."""
        second = int(now)
        if second != self._date_second:
            self._date_second = second
            self._date_text = formatdate(second, usegmt=True)
        return self._date_text

    def _response(self, request: Request, status: int, to_tag: str) -> Response:
        headers = [("Server", self.server_header)] if self.server_header else []
        return request.make_response(status, to_tag=to_tag, headers=headers)


def _contact_expires(contact: NameAddr, header_expires: int | None, default: int) -> int:
    value = contact.params.get("expires")
    if value is not None:
        return int(value)  # already range-checked by the Contact parser
    if header_expires is not None:
        return header_expires
    return default


def _parse_q(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        q = float(text)
    except ValueError:
        raise SipParseError(f"Invalid q value {text[:10]!r}") from None
    if not 0.0 <= q <= 1.0:
        raise SipParseError(f"q value out of range: {text[:10]}")
    return q
