"""The FAQ knowledge base: corpus, encoder, tuned models, scoring evidence, versioned index,
decision, calibration, evaluation, tuning, the serving knowledge base and the operations."""

__all__ = ["corpus", "encoder", "models", "evidence", "index", "build", "decision", "calibrate",
           "evaluate", "tune", "serving", "ops"]
