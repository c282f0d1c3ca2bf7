"""supportbot: a customer-support chatbot framework on Rasa 3.6."""

__version__ = "0.1.0"
