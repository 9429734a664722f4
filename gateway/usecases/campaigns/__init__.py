"""Campaigns: personalized subject lines for every recipient of an audience, as a job.

``jobs`` (create a campaign and its rows, progress, paginated results), ``rows`` (run
the pending rows of a campaign, each written once when it finishes), ``runners`` (who
runs them: a task in the gateway's process, or the Redis job queue), ``worker`` (the
arq worker behind ``persona worker``), ``forget`` (a forgotten user's rows go).
"""
