"""Rooms of shared documents: sync, awareness and fan-out to connected clients."""
