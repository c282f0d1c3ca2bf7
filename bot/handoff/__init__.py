"""Hand-off to a human agent: packet and transcript, durable store, redaction, webhook outbox."""
