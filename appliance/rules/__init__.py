"""Rules: criteria operators (operators), criteria evaluation against a trigger payload (criteria)."""
