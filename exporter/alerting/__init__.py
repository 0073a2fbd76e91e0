"""Alertmanager's side of the stack, in Python.

The webhook receiver (exporter/webhook.py) turns notifications into typed alerts
(``alerts``), hands them to the user's callbacks off the request path (``dispatch``) and
counts what it did (``metrics``); ``amconfig`` adapts the project's alertmanager.yml for local
runs and tests.
"""
