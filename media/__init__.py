"""Media: RTP relay (anchoring every call's media on the switch), and later codecs,
DTMF, playback, recording and AMD.

- `media.backend`: the seam the switch talks to (`MediaBackend`), with its data types.
- `media.relay`: the sans-I/O relay core (latching, header rewriting, RTCP, inactivity).
- `media.ports`: the RTP/RTCP port-pair allocator.
- `media.aio`: the asyncio layer serving `MediaBackend` from this process.
"""
