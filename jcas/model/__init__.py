"""The system model: parameters, drops, channel estimation, closed-form metrics, Fisher
information."""
