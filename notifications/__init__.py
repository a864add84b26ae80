"""Notifications: who is told what, and how (in-app for now; outbox and channels to come)."""
