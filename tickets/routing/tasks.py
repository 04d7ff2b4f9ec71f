"""Celery tasks of routing and automation (queue "default"). Thin: they call the functions."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="routing.auto_close_solved", ignore_result=True)
def auto_close_solved_task() -> int:
    """For beat: close tickets solved longer ago than their store's setting."""
    from tickets.routing.autoclose import auto_close_solved

    return auto_close_solved()


@shared_task(name="routing.assign_waiting", ignore_result=True)
def assign_waiting_task() -> int:
    """For beat: hand out tickets waiting unassigned in teams that assign automatically."""
    from tickets.routing.assignment import assign_waiting_tickets

    return assign_waiting_tickets()
