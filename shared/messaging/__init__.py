"""Kafka plumbing: the producer, the transactional outbox and its relay, the inbox and the
idempotent consumer runner, topic administration."""
