"""ACD: the sans-I/O routing core (queues, agents, skills, priorities) and the dialers.

Built by the ACD issue on the call-control events and commands of switch.calls.
"""
