"""ACD: the sans-I/O routing core (queues, agents, skills, priorities) and the dialers.

Speaks only call-control events and commands (DESIGN.md); the glue wires it to calls.

* `acd.core.AcdCore` — ``handle(event, now)``, ``get_timer()``, ``handle_timer(now)``;
  theory of operation in its module docstring.
* `acd.events` / `acd.commands` — the frozen, slotted, keyword-only dataclasses in and
  out (plus ``switch.control.Dial`` for callbacks); `acd.commands.Explanation` says why
  an agent was chosen.
* `acd.model` — QueueConfig, AgentConfig, Membership, BreakType, RelaxStep, AcdConfig
  and the errors (`AcdError` and subclasses).
* `acd.aging` — piecewise-linear priority aging; `acd.strategies` — the routing
  strategies and their registry; `acd.positions` — O(log n) queue positions.
* `acd.queue_log` — QueueLogStore: the queue log in SQLite (WAL), batched commits.
* `acd.sim` — discrete-event simulator on the real core, and Erlang C.
"""
