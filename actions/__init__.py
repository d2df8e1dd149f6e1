"""Rasa custom actions, one module per conversation area. Thin: slots in, a service call, replies out."""
