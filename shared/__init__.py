"""The platform's common library: event contracts, Kafka plumbing, outbox/inbox, settings,
database and HTTP helpers. Services depend on it; it depends on no service."""
