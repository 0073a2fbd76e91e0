"""``make run``: the whole stack as local processes, without Docker.

``run`` is the ``exporter stack`` command; ``servers`` starts and stops the real binaries
(Prometheus, Alertmanager, the blackbox exporter, the demo); ``promconfig`` renders the local
Prometheus configuration; ``alerting`` starts Alertmanager and the alert receiver.
"""
