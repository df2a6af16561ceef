"""User operations (用户运营): profiles, segments, layers, churn warning, channels."""
