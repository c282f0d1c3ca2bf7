"""FAQ knowledge base: corpus, encoder, index, decision, evaluation and calibration."""
