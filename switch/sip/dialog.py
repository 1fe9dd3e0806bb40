"""SIP dialogs (RFC 3261 §12), sans-I/O: the state that in-dialog requests are built from.

The B2BUA keeps one dialog per call leg: towards the caller it is the UAS side (created
from the INVITE it received), towards the callee the UAC side (created from the 2xx it
received). A dialog knows how to address the peer (remote target, route set, the flow
the peer is reachable on) and numbers the requests it sends.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable

from switch.sip.flow import Flow
from switch.sip.headers import CSeq, NameAddr, Via
from switch.sip.message import Request, Response
from switch.sip.uri import Uri, parse_uri

_BRANCH_PREFIX = "z9hG4bK" + os.urandom(4).hex()
_branches = itertools.count(1)
_TAG_PREFIX = os.urandom(3).hex()
_tags = itertools.count(1)


def new_branch() -> str:
    """A branch unique in space and time, with the RFC 3261 magic cookie."""
    return f"{_BRANCH_PREFIX}{next(_branches):x}"


def new_tag() -> str:
    return f"{_TAG_PREFIX}{next(_tags):x}"


def new_call_id(host: str) -> str:
    return f"{os.urandom(8).hex()}@{host}"


class Dialog:
    __slots__ = (
        "call_id",
        "local_tag",
        "remote_tag",
        "local_uri",
        "remote_uri",
        "remote_target",
        "route_set",
        "local_cseq",
        "remote_cseq",
        "flow",
        "via_host",
        "via_port",
        "contact",
    )

    def __init__(
        self,
        *,
        call_id: str,
        local_tag: str,
        remote_tag: str | None,
        local_uri: str,
        remote_uri: str,
        remote_target: str,
        route_set: list[str],
        local_cseq: int,
        remote_cseq: int | None,
        flow: Flow,
        via_host: str,
        via_port: int,
        contact: str,
    ) -> None:
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        self.local_uri = local_uri  # name-addr text, without tag
        self.remote_uri = remote_uri
        self.remote_target = remote_target
        self.route_set = route_set
        self.local_cseq = local_cseq
        self.remote_cseq = remote_cseq
        self.flow = flow
        self.via_host = via_host
        self.via_port = via_port
        self.contact = contact

    @classmethod
    def as_uas(cls, invite: Request, local_tag: str, flow: Flow, *, via_host: str,
               via_port: int, contact: str) -> Dialog:
        """The dialog of a UAS that answers `invite` (§12.1.1)."""
        contacts = invite.contacts() or []
        target = contacts[0].uri_text if contacts else str(invite.from_.uri)
        routes = [str(r) for r in invite.routes("Record-Route")]
        return cls(
            call_id=invite.call_id,
            local_tag=local_tag,
            remote_tag=invite.from_.tag,
            local_uri=_without_tag(invite.to),
            remote_uri=_without_tag(invite.from_),
            remote_target=target,
            route_set=routes,
            local_cseq=0,
            remote_cseq=invite.cseq.number,
            flow=flow,
            via_host=via_host,
            via_port=via_port,
            contact=contact,
        )

    def confirm_as_uac(self, response: Response) -> None:
        """Complete a UAC dialog from the 2xx to its INVITE (§12.1.2)."""
        self.remote_tag = response.to.tag
        contacts = response.contacts() or []
        if contacts:
            self.remote_target = contacts[0].uri_text
        self.route_set = [str(r) for r in reversed(response.routes("Record-Route"))]

    def matches(self, request: Request) -> bool:
        return (request.call_id == self.call_id and request.to.tag == self.local_tag
                and request.from_.tag == self.remote_tag)

    def accept_remote_cseq(self, request: Request) -> bool:
        """§12.2.2: a lower CSeq than the last one is out of order (answer 500)."""
        number = request.cseq.number
        if self.remote_cseq is not None and number < self.remote_cseq:
            return False
        self.remote_cseq = number
        return True

    def _via(self, branch: str) -> Via:
        transport = self.flow.transport.upper()
        return Via(transport=transport, host=self.via_host, port=self.via_port,
                   params={"branch": branch, "rport": None})

    def request(self, method: str, *, body: bytes = b"", content_type: str | None = None,
                headers: Iterable[tuple[str, str]] = (), cseq: int | None = None,
                branch: str | None = None) -> Request:
        """A request inside this dialog (§12.2.1.1)."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        uri: Uri | str = self.remote_target
        all_headers: list[tuple[str, str]] = [("Route", r) for r in self.route_set]
        if method in ("INVITE", "UPDATE", "SUBSCRIBE", "REFER"):
            all_headers.append(("Contact", self.contact))
        all_headers += list(headers)
        if content_type is not None:
            all_headers.append(("Content-Type", content_type))
        remote_tag = f";tag={self.remote_tag}" if self.remote_tag else ""
        return Request(
            method,
            uri,
            vias=[self._via(branch or new_branch())],
            max_forwards=70,
            from_=f"{self.local_uri};tag={self.local_tag}",
            to=f"{self.remote_uri}{remote_tag}",
            call_id=self.call_id,
            cseq=CSeq(cseq, method),
            headers=all_headers,
            body=body,
        )

    def ack_for(self, invite_cseq: int, *, body: bytes = b"") -> Request:
        """The ACK for a 2xx: its own branch, the INVITE's CSeq number (§13.2.2.4)."""
        return self.request("ACK", cseq=invite_cseq, body=body,
                            content_type="application/sdp" if body else None)


def _without_tag(address: NameAddr) -> str:
    params = {k: v for k, v in address.params.items() if k != "tag"}
    return str(NameAddr(uri_text=address.uri_text, display=address.display, params=params))


def target_uri(text: str) -> Uri:
    return parse_uri(text)
