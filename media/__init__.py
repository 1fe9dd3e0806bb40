"""Media: every call's RTP anchored on the switch, and what the switch does with it.

- `media.backend`: the seam the switch talks to (`MediaBackend`), with its data types.
- `media.relay`: the sans-I/O relay core (latching, header rewriting, RTCP, inactivity,
  transcoding and listening taps, DTMF reading and conversion, the 20 ms media tick).
- `media.ports`: the RTP/RTCP port-pair allocator.
- `media.aio`: the asyncio layer serving `MediaBackend` from this process.
- `media.codecs`: G.711 (numpy tables, bit-exact), G.729 (libbcg729), concealment.
- `media.jitter`, `media.transcode`: reordering/loss ahead of decoders; transcoding.
- `media.dtmf`: RFC 4733, in-band (batched Goertzel), SIP INFO; conversion policy.
- `media.playback`, `media.recording`: prompts, TTS, music on hold; call recording.
- `media.amd`: answering-machine, beep and fax-tone detection.
"""
