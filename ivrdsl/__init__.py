"""The YAML IVR language: validator with exact error positions and a sans-I/O interpreter.

Built by the IVR issue on the call-control events and commands of switch.calls.
"""
