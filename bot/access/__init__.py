"""What a customer's client may do: which conversation it holds (a server-issued id and the token
bound to it, or a signed JWT from the operator's site) and how much it may send."""

__all__ = ["conversations", "limits"]
