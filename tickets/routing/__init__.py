"""Routing and automation: who gets a ticket (round-robin auto-assignment by team, capacity,
availability and skills) and what happens to it on arrival (ordered when -> if -> then rules,
auto-acknowledgements, auto-close of solved tickets).

- `tickets.routing.assignment`: `auto_assign(ticket)`, the fair, capacity-aware round-robin.
- `tickets.routing.availability`: `set_availability(...)`, an agent going online, away or offline.
- `tickets.routing.rules`: `run_rules(ticket, trigger, message=...)`, matching and actions.
- `tickets.routing.acknowledgement`: the automatic "we have your message" email.
- `tickets.routing.autoclose`: closing solved tickets after the store's number of days.
- `tickets.routing.hooks`: the one call the ingest path makes after threading a message.
"""
