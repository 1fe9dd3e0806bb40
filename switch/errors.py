"""Error hierarchy shared by every part of the switch."""


class SwitchError(Exception):
    """Root of all errors raised by the switch."""
