"""Contacts: how a person is reached — contact methods and their verification, notification
rules (which method how long after engagement), and shared notification channels."""
