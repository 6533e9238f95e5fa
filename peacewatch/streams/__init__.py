"""The streaming platform: Kafka helpers, the embedded broker, batch shapes,
dead letters, the consumer registry's shape and the one consumer runner.

It knows nothing of alerts, drones or reports: a consumer is a topic, a group
and a pure ``process_batch`` named by dotted path (``peacewatch.consumers``
lists PeaceWatch's). ``tests/test_layout.py`` keeps it that way.
"""
