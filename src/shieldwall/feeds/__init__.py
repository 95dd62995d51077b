"""Scheduled pulls: configured TAXII collections and MISP feeds, run in the background."""
