"""SDP offer/answer micro-benchmark: what the B2BUA's SDP layer costs per call.

Every relayed call runs, in `switch.sdp`:

* ``parse``         parse_sdp() of the caller's offer (and once more of the callee's answer)
* ``build_offer``   build_offer(): the offer sent on to the callee
* ``build_answer``  build_answer(): the answer sent back to the caller
* ``payload_map``   payload_map(): the relay's payload-type rewrites
* ``to_bytes``      SessionDescription.to_bytes() of the answer built
* ``rtpmap``        MediaDescription.rtpmap() of the offer's audio stream, for reference

``call_total`` is the sum of what one call runs: 2 x parse + build_offer + build_answer
+ payload_map + to_bytes. Those rows time each function on the same inputs over and
over, so what the SDP layer remembers about a description (MediaDescription.rtpmap()
keeps its last result) is always at hand. ``call_flow`` times the real sequence
instead, from the two byte strings to the answer's bytes, on new descriptions every
time: closer to what a call costs, and the row that shows a cache that only helps
repeated runs.

Two offer shapes are timed: ``sipp`` (SIPp's uac offer with PCMU, PCMA and
telephone-event/8000 on 101: the typical 10-line G.711 SDP; answered with the same SDP
on another port, so nothing to rewrite; keys without prefix) and ``linphone`` (opus,
G729 annexb=yes, PCMA, PCMU, telephone-event/8000 on 96, rtcp-fb and rtcp-xr lines,
answered by a Yealink-style phone with telephone-event on 101, so the relay rewrites
96 <-> 101; keys prefixed ``linphone_``).

Timing uses ``timeit.repeat`` (``time.perf_counter``); each value is per call in
microseconds, the median over the repeats (the minimum is in the ``*_min_us`` keys).

Run::

    .venv/bin/python bench/sdp_offer_answer.py [--quick] [--json PATH]

Sample output (2-core VM, CPython 3.11.7, full run)::

    sipp offer (233 bytes)
    case             median us    min us
    parse                13.14     13.03
    build_offer           9.79      9.65
    build_answer         15.86     15.58
    payload_map           6.36      6.30
    to_bytes              3.58      3.54
    rtpmap                0.20      0.20
    call_total           61.87     61.13
    call_flow            97.97     96.48

    linphone offer (367 bytes): parse 14.39, build_offer 11.03, build_answer 19.43,
    payload_map 8.13, to_bytes 3.98, call_total 71.35, call_flow 113.94

(before the SDP layer's speed-up, on the same machine: parse 27.5, build_offer 29.4,
build_answer 45.7, payload_map 66.0, to_bytes 5.7, rtpmap 9.1, call_total 201.9,
call_flow 257.3.)

``--json PATH`` writes flat keys (``parse_us``, ``build_offer_us``, ``build_answer_us``,
``payload_map_us``, ``to_bytes_us``, ``rtpmap_us``, ``call_total_us``, ``call_flow_us``,
the same with ``linphone_`` in front, and ``*_min_us``). ``--quick`` uses fewer, shorter repeats and
finishes in a few seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from timing import time_case  # noqa: E402

from switch.sdp import (  # noqa: E402
    OriginState,
    RelayAddress,
    build_answer,
    build_offer,
    parse_sdp,
    payload_map,
)

# SIPp's uac offer plus PCMA and telephone-event: the typical 10-line G.711 SDP.
SIPP_OFFER = (
    b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\nm=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
    b"a=ptime:20\r\na=sendrecv\r\n"
)
SIPP_ANSWER = SIPP_OFFER.replace(b"6000", b"7000").replace(b"user1", b"user2")

LINPHONE_OFFER = (
    b"v=0\r\n"
    b"o=alice 2463 1782 IN IP4 192.168.0.20\r\n"
    b"s=Talk\r\n"
    b"c=IN IP4 192.168.0.20\r\n"
    b"t=0 0\r\n"
    b"a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n"
    b"m=audio 7078 RTP/AVP 97 18 8 0 96\r\n"
    b"a=rtpmap:97 opus/48000/2\r\n"
    b"a=fmtp:97 useinbandfec=1\r\n"
    b"a=fmtp:18 annexb=yes\r\n"
    b"a=rtpmap:96 telephone-event/8000\r\n"
    b"a=rtcp-fb:* trr-int 1000\r\n"
    b"a=rtcp-fb:* ccm tmmbr\r\n"
    b"a=rtcp-fb:97 nack\r\n"
)
# The callee (a Yealink-style phone) accepts all three of the switch's codecs and
# puts telephone-event on 101: the relay must rewrite 96 <-> 101.
LINPHONE_ANSWER = (
    b"v=0\r\n"
    b"o=- 20012 20013 IN IP4 10.0.0.52\r\n"
    b"s=SDP data\r\n"
    b"c=IN IP4 10.0.0.52\r\n"
    b"t=0 0\r\n"
    b"m=audio 11796 RTP/AVP 18 8 0 101\r\n"
    b"a=rtpmap:18 G729/8000\r\n"
    b"a=fmtp:18 annexb=yes\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\n"
    b"a=ptime:20\r\n"
    b"a=sendrecv\r\n"
)

SHAPES = {"": (SIPP_OFFER, SIPP_ANSWER), "linphone_": (LINPHONE_OFFER, LINPHONE_ANSWER)}
A_RELAY = RelayAddress("127.0.0.1", 20002)
B_RELAY = RelayAddress("127.0.0.1", 20000)


def cases(offer: bytes, answer: bytes) -> list[tuple[str, Callable[[], object]]]:
    """The timed calls for one offer/answer pair, each on fixed, already built inputs."""
    state = OriginState(session_id=1, address="127.0.0.1")
    oa = parse_sdp(offer)
    ob = build_offer(oa, relay=B_RELAY, origin=state.next())
    ab = parse_sdp(answer)
    aa = build_answer(oa, ob, ab, relay=A_RELAY, origin=state.next())
    origin = state.next()
    audio = oa.audio()
    assert audio is not None
    # Sanity: the pair negotiates and needs rewriting the way the docstring says.
    assert payload_map(aa, oa, ob, ab) is not None
    return [
        ("parse", lambda: parse_sdp(offer)),
        ("build_offer", lambda: build_offer(oa, relay=B_RELAY, origin=origin)),
        ("build_answer", lambda: build_answer(oa, ob, ab, relay=A_RELAY, origin=origin)),
        ("payload_map", lambda: payload_map(aa, oa, ob, ab)),
        ("to_bytes", aa.to_bytes),
        ("rtpmap", audio.rtpmap),
        ("call_flow", lambda: call_flow(offer, answer)),
    ]


def call_flow(offer: bytes, answer: bytes) -> bytes:
    """One relayed call's SDP work, from the caller's offer to the answer sent back."""
    a_origin = OriginState(session_id=1, address="127.0.0.1")
    b_origin = OriginState(session_id=2, address="127.0.0.1")
    oa = parse_sdp(offer)
    ob = build_offer(oa, relay=B_RELAY, origin=b_origin.next())
    ab = parse_sdp(answer)
    aa = build_answer(oa, ob, ab, relay=A_RELAY, origin=a_origin.next())
    payload_map(aa, oa, ob, ab)
    return aa.to_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a few seconds)")
    parser.add_argument("--json", metavar="PATH", help="write flat results to PATH")
    args = parser.parse_args(argv)
    repeat, target = (5, 0.05) if args.quick else (15, 0.2)

    results: dict[str, object] = {"repeats": repeat, "python": sys.version.split()[0]}
    print(f"SDP offer/answer benchmark, {repeat} repeats, microseconds per call")
    for prefix, (offer, answer) in SHAPES.items():
        shape = prefix.rstrip("_") or "sipp"
        results[f"{prefix}offer_bytes"] = len(offer)
        print(f"\n{shape} offer ({len(offer)} bytes)")
        print(f"{'case':<16}{'median us':>10}{'min us':>10}")
        medians: dict[str, float] = {}
        minimums: dict[str, float] = {}
        for name, func in cases(offer, answer):
            median, minimum = time_case(func, repeat, target)
            medians[name], minimums[name] = median, minimum
            results[f"{prefix}{name}_us"] = round(median, 3)
            results[f"{prefix}{name}_min_us"] = round(minimum, 3)
            if name == "call_flow":
                per_call = ("parse", "parse", "build_offer", "build_answer", "payload_map")
                total = sum(medians[n] for n in (*per_call, "to_bytes"))
                total_min = sum(minimums[n] for n in (*per_call, "to_bytes"))
                results[f"{prefix}call_total_us"] = round(total, 3)
                results[f"{prefix}call_total_min_us"] = round(total_min, 3)
                print(f"{'call_total':<16}{total:>10.2f}{total_min:>10.2f}")
            print(f"{name:<16}{median:>10.2f}{minimum:>10.2f}")

    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
