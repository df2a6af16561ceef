"""Events: the model, wire formats (PostHog, Segment), validation, identity, dedupe."""
