"""Test support: the servers (one fixture, three ways to get them), service processes,
a Kafka reader, a TCP proxy for cutting connections, a disposable broker."""
