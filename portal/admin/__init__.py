"""The admin pages: the working calendar and service policies."""
