"""DTMF three ways: RFC 4733 telephone-events, in-band tones, SIP INFO.

- `media.dtmf.rfc4733`: `TelephoneEventReceiver` (per stream), `schedule_digit`,
  `TelephoneEventSender`, payload parse/build.
- `media.dtmf.inband`: `DtmfDetectorBank` (batched Goertzel bank: `process` a
  channels x samples matrix per tick, or `push` decoded audio and `run` per tick),
  `InbandDetector` (one channel), `detect` (a whole recording).
- `media.dtmf.sipinfo`: `parse_info`, `format_dtmf_relay`, `format_dtmf`.
- `media.dtmf.tones`: the alphabet, frequencies, `synthesize`, `ToneSender` (in-band
  digits for a peer without telephone-event, pulled frame by frame).
- `media.dtmf.policy`: `plan(source, target)` — which method carries a digit across.
- `media.dtmf.events`: `DigitStarted`, `DigitEnded`, `to_dtmf_received`.

All cores are sans-I/O: time comes in as `now`, timers as `get_timer`/`handle_timer`.
"""
